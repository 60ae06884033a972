"""Log signatures: drain3 templates mined over a baseline window and an incident window, compared.

Lines are masked first (UUIDs, IPs, hex ids, durations such as `123ms` or `1m2s`, numbers) so the same
message with different values is one template. Both windows are mined by one in-memory miner (no persistence),
in time order, so the template ids are shared and the result depends only on the input. Per template: counts
and rates in each window, first and last time seen, whether it is new (absent from the baseline), a few
sample lines, a guessed level and the count per minute (for the log rate). The number of lines mined is capped:
above the cap each window keeps its errors and warnings first and an evenly strided share of the rest, with
counts scaled back up, so rates stay comparable and a rare new error is not sampled away.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

from oncall_agent.domain.records import LogRecord
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import taxonomy

SAMPLE_CHARS = 300
MAX_SAMPLES = 3
DEFAULT_MAX_LINES = 20_000

_EDGE_L, _EDGE_R = r"(?<![A-Za-z0-9_])", r"(?![A-Za-z0-9_])"
_MASKS = [
    # Order matters: the wider shapes first, so a UUID is not eaten as hex runs and numbers.
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?(?::\d{1,5})?", "IP"),
    (r"(?:0x)?(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}", "HEX"),
    (r"\d+(?:\.\d+)?(?:ms|us|µs|ns|s|m|h)(?:\d+(?:\.\d+)?(?:ms|us|µs|ns|s|m|h))*", "DURATION"),
    (r"[-+]?\d+(?:\.\d+)?", "NUM"),
]


class Level(StrEnum):
    ERROR = "ERROR"
    WARN = "WARN"
    INFO = "INFO"


_LEVEL_TOKENS = [
    (re.compile(r"\b(ERROR|FATAL|CRITICAL|SEVERE|PANIC|ALERT|EMERG)\b"), Level.ERROR),
    (re.compile(r"\b(WARN|WARNING)\b"), Level.WARN),
    (re.compile(r"\b(INFO|DEBUG|TRACE|NOTICE|LOG)\b"), Level.INFO),
]
_ERROR_WORDS = re.compile(
    r"exception|traceback|error|fail(ed|ure)?|timed out|timeout|refused|unavailable|denied|panic", re.I
)


def stated_level(text: str) -> Level | None:
    """The level a line states (in its first 80 characters, where loggers put it), if any."""
    head = text[:80]
    found = [(match.start(), level) for pattern, level in _LEVEL_TOKENS if (match := pattern.search(head))]
    return min(found)[1] if found else None


def guess_level(text: str) -> Level:
    """The level a line states, else a guess from words that mean failure (a Lambda `Task timed out` has no
    level but is an error). `mine` also promotes a template without a stated level that states a symptom class
    of the taxonomy (`OOM command not allowed`): matched per template, not per line, as it costs more."""
    stated = stated_level(text)
    if stated is not None:
        return stated
    return Level.ERROR if _ERROR_WORDS.search(text) else Level.INFO


@dataclass
class Signature:
    cluster_id: int
    template: str
    level: Level
    count_before: float = 0.0
    count_after: float = 0.0
    rate_before: float = 0.0  # lines per minute in the baseline window
    rate_after: float = 0.0  # lines per minute in the incident window
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    first_after: datetime | None = None  # first line in the incident window
    groups: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    per_minute: dict[datetime, float] = field(default_factory=dict)  # lines per UTC minute (weighted)

    @property
    def new(self) -> bool:
        return self.count_before == 0 and self.count_after > 0

    def rate_change(self, baseline_minutes: float) -> float:
        """Incident rate over baseline rate; a template unseen in the baseline counts as one line in it."""
        floor = 1.0 / max(baseline_minutes, 1.0)
        return round(self.rate_after / max(self.rate_before, floor), 3)


def _miner() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.masking_instructions = [MaskingInstruction(_EDGE_L + p + _EDGE_R, name) for p, name in _MASKS]
    config.drain_sim_th = 0.5  # stricter than the default 0.4: a 200 and a 500 line must not merge
    config.drain_depth = 5
    config.profiling_enabled = False
    return TemplateMiner(persistence_handler=None, config=config)


def _strided(records: list[LogRecord], cap: int) -> list[tuple[LogRecord, float]]:
    """At most `cap` records, evenly spread, each with the weight that scales counts back to the total."""
    if cap <= 0 or not records:
        return []
    if len(records) <= cap:
        return [(record, 1.0) for record in records]
    step = len(records) / cap
    return [(records[math.floor(index * step)], step) for index in range(cap)]


def _capped(records: list[LogRecord], cap: int) -> list[tuple[LogRecord, float]]:
    """At most `cap` records of one window. Errors and warnings are kept first (they are rare and they are
    what matters); the routine lines share what is left, evenly strided."""
    noisy = [record for record in records if guess_level(record.message) is not Level.INFO]
    routine = [record for record in records if guess_level(record.message) is Level.INFO]
    kept = _strided(noisy, cap)
    return kept + _strided(routine, cap - len(kept))


def _record(sig: Signature, line: LogRecord, after: bool, weight: float) -> None:
    at = as_utc(line.at)
    sig.first_seen = at if sig.first_seen is None else min(sig.first_seen, at)
    sig.last_seen = at if sig.last_seen is None else max(sig.last_seen, at)
    if after:
        sig.count_after += weight
        sig.first_after = at if sig.first_after is None else min(sig.first_after, at)
    else:
        sig.count_before += weight
    minute = at.replace(second=0, microsecond=0)
    sig.per_minute[minute] = sig.per_minute.get(minute, 0.0) + weight
    if line.group not in sig.groups:
        sig.groups.append(line.group)
    sample = line.message[:SAMPLE_CHARS]
    # The first sample may come from the baseline; the others show what the incident window looks like.
    if len(sig.samples) < MAX_SAMPLES and (after or not sig.samples) and sample not in sig.samples:
        sig.samples.append(sample)


def _order(record: LogRecord) -> tuple[datetime, str, str, str]:
    return as_utc(record.at), record.group, record.stream or "", record.message


def mine(
    records: list[LogRecord],
    split: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
    max_lines: int = DEFAULT_MAX_LINES,
) -> list[Signature]:
    """Templates over `records`: baseline = [start, split), incident = [split, end]. `start`/`end` default to
    the first/last line. Sorted: new first, then by incident count, then by template (deterministic)."""
    split = as_utc(split)
    ordered = sorted(records, key=_order)
    if not ordered:
        return []
    start = as_utc(start) if start else as_utc(ordered[0].at)
    end = as_utc(end) if end else as_utc(ordered[-1].at)
    # The incident window gets at least half the cap: it is where the answer is.
    after = _capped([r for r in ordered if as_utc(r.at) >= split], max_lines - max_lines // 2)
    before = _capped([r for r in ordered if as_utc(r.at) < split], max_lines - len(after))
    miner = _miner()
    signatures: dict[int, Signature] = {}
    for line, weight in sorted(before + after, key=lambda item: _order(item[0])):
        cluster_id = miner.add_log_message(line.message)["cluster_id"]
        sig = signatures.setdefault(cluster_id, Signature(cluster_id, "", guess_level(line.message)))
        _record(sig, line, as_utc(line.at) >= split, weight)
    templates = {cluster.cluster_id: cluster.get_template() for cluster in miner.drain.clusters}
    baseline_minutes = max((split - start).total_seconds() / 60, 1e-9)
    incident_minutes = max((end - split).total_seconds() / 60, 1e-9)
    for sig in signatures.values():
        sig.template = templates.get(sig.cluster_id, sig.template)
        if sig.level is Level.INFO and stated_level(sig.samples[0]) is None and taxonomy.states_symptom(sig.template):
            sig.level = Level.ERROR  # no level stated, but the line says something failed
        sig.count_before, sig.count_after = round(sig.count_before, 2), round(sig.count_after, 2)
        sig.rate_before = round(sig.count_before / baseline_minutes, 4) if split > start else 0.0
        sig.rate_after = round(sig.count_after / incident_minutes, 4)
    return sorted(signatures.values(), key=lambda s: (not s.new, -s.count_after, s.template))
