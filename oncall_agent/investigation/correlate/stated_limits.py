"""A hard limit a log line says is reached: "live threads 4090 of limit 4096", "connections 198 of max 200",
"4090/4096 (limit)". Servers and runtimes report their counts against their limits this way; a count within 5% of
its limit, in a line that appeared at the onset, says the limit was crossed there - decisive for exhaustion, where
a rising metric without its limit is only suggestive. Numbers are read from the raw sample lines (drain3 masks them
in the templates).

`limit_stated` (a resource-exhaustion feature): 1 when a new or increased line of ours that began no later than the
alarm metric moved (2 minutes slack) states a count at its limit, and is about the strained resource (this
service's own, or a line that names the resource).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import relations
from oncall_agent.investigation.correlate.candidates import Facts
from oncall_agent.investigation.correlate.cause_common import own_resource, texts
from oncall_agent.investigation.correlate.features import SLACK_MINUTES, Scored

AT_LIMIT = 0.95
"""A count at or above this share of its limit is at the limit (the last few units go to in-flight work)."""
_NUMBER = r"(\d[\d,]*(?:\.\d+)?)"
_STATEMENTS = (
    re.compile(
        rf"{_NUMBER}\s*(?:of|out of)\s+(?:the\s+|a\s+)?(?:hard\s+)?(?:limit|max(?:imum)?)"
        rf"\s*(?:of\s+|[:=]\s*)?{_NUMBER}",
        re.I,
    ),
    re.compile(rf"{_NUMBER}\s*/\s*{_NUMBER}\s*\(\s*(?:hard\s+)?(?:limit|max(?:imum)?)\b", re.I),
)


@dataclass(frozen=True)
class StatedLimit:
    count: float
    limit: float
    line: str

    @property
    def reached(self) -> bool:
        return self.limit > 0 and self.count >= AT_LIMIT * self.limit


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def stated_limits(lines: Iterable[str]) -> list[StatedLimit]:
    """Every "count of limit" statement in the lines, in order."""
    found = []
    for line in lines:
        for pattern in _STATEMENTS:
            for match in pattern.finditer(line):
                found.append(StatedLimit(_number(match.group(1)), _number(match.group(2)), line))
    return found


def limit_reached(lines: Iterable[str]) -> StatedLimit | None:
    """The first statement in the lines of a count at its limit, or None."""
    return next((stated for stated in stated_limits(lines) if stated.reached), None)


def limit_stated(scored: Scored, facts: Facts) -> None:
    """`limit_stated` for a resource-exhaustion candidate (module docstring)."""
    resource = scored.candidate.culprit
    latest = as_utc(facts.reference) + timedelta(minutes=SLACK_MINUTES)
    ours = resource == own_resource(facts)
    for item in facts.signatures:
        if item.at is None or as_utc(item.at) > latest:
            continue
        lines = texts(item)
        stated = limit_reached(lines)
        if stated is None or not (ours or relations.mentions(lines, {resource})):
            continue
        scored.features["limit_stated"] = 1.0
        scored.notes["limit_stated"] = f"a log line says it reached its limit ({stated.count:g} of {stated.limit:g})"
        scored.evidence_for.append(item.id)
        return
    scored.features["limit_stated"] = 0.0
