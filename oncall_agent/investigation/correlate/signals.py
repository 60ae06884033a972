"""Signal builders: the alarm's metric series -> a metric_shift item (change point, and how long the shift took
to build up), a log sample -> log_signature items (drain3 templates, baseline vs incident window) plus, when
the rate of the service's routine log lines shifted, a metric_shift item derived from the logs (the request
rate, as far as the logs show it: the sources read no second metric). Re-exported by `evidence`."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from oncall_agent.domain.evidence import Evidence, EvidenceKind
from oncall_agent.domain.records import LogSample, MetricSeries
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate.changepoint import Shift, detect_shift, rise_minutes
from oncall_agent.investigation.correlate.context import CorrelationContext, iso
from oncall_agent.investigation.correlate.signatures import DEFAULT_MAX_LINES, Level, Signature, mine

INCIDENT_WINDOW = timedelta(minutes=30)
"""Log lines in the last this-long before the onset (and after it) form the incident window; earlier ones
the baseline. Long enough to hold the change that caused the alarm, short enough to leave a baseline."""
INCREASE_FACTOR = 3.0
"""A signature whose incident rate is at least this many times its baseline rate is `increased`."""
MAX_LOG_EVIDENCE = 25
MIN_BASELINE_MINUTES = 10.0
"""With less baseline than this (a truncated sample holding only the latest lines) nothing is called new."""


def gap(source: str, reason: str) -> Evidence:
    """What could not be checked and why (a failed or unconfigured source)."""
    return _gap(source, f"could not check {source}: {reason}", {"reason": reason[:1000]})


def cut(source: str, what: str) -> Evidence:
    """What a budget left out of a source that was checked (a gap too: the evidence is incomplete)."""
    return _gap(source, f"{source} cut by a budget: {what}", {"reason": what[:1000], "cut": True})


def _gap(source: str, summary: str, details: dict[str, object]) -> Evidence:
    return Evidence(kind=EvidenceKind.GAP, source=source, entity=source, summary=summary[:500], details=details)


# --- metrics -------------------------------------------------------------------------------------------------


def _same_metric(series: MetricSeries, ctx: CorrelationContext) -> bool:
    alarm = ctx.alarm_metric
    mine = (series.metric.namespace, series.metric.name, series.metric.dimensions)
    return alarm is not None and (alarm.namespace, alarm.name, alarm.dimensions) == mine


def _shift_details(
    shift: Shift | None, ctx: CorrelationContext, points: list[tuple[datetime, float]]
) -> dict[str, Any]:
    if shift is None:
        return {"detected": False}
    return {
        "detected": True,
        "onset": iso(shift.onset),
        "before": shift.before,
        "after": shift.after,
        "magnitude": shift.magnitude,
        "relative": shift.relative,
        "direction": shift.direction,
        "score": shift.score,
        "minutes_before_onset": ctx.minutes_before_onset(shift.onset),
        "rise_minutes": rise_minutes(points, shift),
    }


def metric_evidence(series: MetricSeries, ctx: CorrelationContext) -> list[Evidence]:
    """One metric_shift item: the level shift (onset, before, after, magnitude), or `detected: false`."""
    metric = series.metric
    dims = ",".join(f"{key}={value}" for key, value in sorted(metric.dimensions.items()))
    entity = f"{metric.namespace}/{metric.name}" + (f"{{{dims}}}" if dims else "")
    if not series.points:
        return [gap("metrics", f"no datapoints for {entity} between {iso(ctx.window_start)} and {iso(ctx.now)}")]
    shift = detect_shift(series.points)
    details: dict[str, Any] = {
        "metric": metric.name,
        "namespace": metric.namespace,
        "dimensions": dict(metric.dimensions),
        "stat": series.stat,
        "period": series.period,
        "points": len(series.points),
        "alarm_metric": _same_metric(series, ctx),
        **_shift_details(shift, ctx, series.points),
    }
    summary = f"{metric.name} ({series.stat}) shows no level shift over the window"
    if shift is not None:
        summary = (
            f"{metric.name} ({series.stat}) shifted {shift.direction} from {shift.before:g} to {shift.after:g} "
            f"starting {shift.onset:%H:%M}Z, {details['minutes_before_onset']:g} min before the alarm"
        )
    at = shift.onset if shift else None
    item = Evidence(
        kind=EvidenceKind.METRIC_SHIFT, source="metrics", at=at, entity=entity, summary=summary, details=details
    )
    return [item]


# --- logs ----------------------------------------------------------------------------------------------------


def _classify(sig: Signature, baseline_minutes: float) -> str | None:
    """new | increased | chronic (errors and warnings only) | seen (errors and warnings, without a baseline to
    compare with) | None (not worth an evidence item)."""
    if baseline_minutes < MIN_BASELINE_MINUTES:
        return "seen" if sig.level is not Level.INFO and sig.count_after > 0 else None
    if sig.new:
        return "new"
    ratio = sig.rate_change(baseline_minutes)
    if ratio >= INCREASE_FACTOR and sig.count_after >= 3:
        return "increased"
    if sig.level is not Level.INFO and sig.count_after > 0:
        return "chronic"
    return None


_PRIORITY = {
    ("new", Level.ERROR): 0,
    ("new", Level.WARN): 1,
    ("increased", Level.ERROR): 2,
    ("increased", Level.WARN): 3,
    ("new", Level.INFO): 4,
    ("increased", Level.INFO): 5,
    ("seen", Level.ERROR): 6,
    ("seen", Level.WARN): 7,
}


def _signature_evidence(sig: Signature, status: str, split: datetime, baseline_minutes: float) -> Evidence:
    details = {
        "template": sig.template[:1000],
        "level": sig.level.value,
        "status": status,
        "new": status == "new",
        "chronic": status == "chronic",
        "first_seen": iso(sig.first_seen),
        "first_in_window": iso(sig.first_after),
        "last_seen": iso(sig.last_seen),
        "count_before": sig.count_before,
        "count_after": sig.count_after,
        "rate_before": sig.rate_before,
        "rate_after": sig.rate_after,
        "rate_change": sig.rate_change(baseline_minutes),
        "split": iso(split),
        "groups": sig.groups,
        "samples": sig.samples,
    }
    at = sig.first_seen if status == "new" else sig.first_after
    summary = (
        f"{status} {sig.level.value} log signature ({sig.count_after:g} lines since {split:%H:%M}Z, "
        f"{sig.count_before:g} before): {sig.template[:160]}"
    )
    return Evidence(
        kind=EvidenceKind.LOG_SIGNATURE,
        source="logs",
        at=at,
        entity=sig.groups[0] if sig.groups else "logs",
        summary=summary,
        details=details,
    )


def log_evidence(
    sample: LogSample,
    ctx: CorrelationContext,
    *,
    split: datetime | None = None,
    max_lines: int = DEFAULT_MAX_LINES,
    max_items: int = MAX_LOG_EVIDENCE,
) -> list[Evidence]:
    """One log_signature item per new or strongly increased template, then chronic errors and warnings
    (marked `chronic`: present in the baseline at a similar rate, so not caused by anything recent)."""
    if not sample.records:
        return [gap("logs", f"no log lines for {ctx.service.name} in the window")]
    split = as_utc(split or ctx.onset - INCIDENT_WINDOW)
    first_line = min(as_utc(record.at) for record in sample.records)
    # A truncated sample holds only the latest lines: its baseline starts at its first line, not the window's.
    start = max(as_utc(ctx.window_start), first_line) if sample.truncated else as_utc(ctx.window_start)
    start = min(start, split)
    signatures = mine(sample.records, split, start, max(as_utc(ctx.now), split), max_lines)
    baseline_minutes = (split - start).total_seconds() / 60
    ranked = []
    for sig in signatures:
        status = _classify(sig, baseline_minutes)
        if status is not None:
            ranked.append((_PRIORITY.get((status, sig.level), 8), -sig.count_after, sig.template, sig, status))
    ranked.sort(key=lambda item: item[:3])
    items = [_signature_evidence(sig, status, split, baseline_minutes) for *_, sig, status in ranked[:max_items]]
    after = [as_utc(record.at) for record in sample.records if as_utc(record.at) >= split]
    # A truncated incident window holds only its latest lines: its rate starts at its first line.
    incident_start = min(after) if sample.truncated and after else split
    end = max(as_utc(ctx.now), split)
    # The rate starts at the first line: a window that begins before the service logged anything is not a dip.
    items += log_rate_evidence(signatures, [(max(start, first_line), split), (incident_start, end)], ctx)
    if baseline_minutes < MIN_BASELINE_MINUTES:
        reason = (
            f"the log sample starts at {first_line:%H:%M}Z, after the baseline window ends ({split:%H:%M}Z): "
            "new log signatures cannot be told from chronic ones"
        )
        items.append(gap("logs", reason))
    return items


# --- the log rate --------------------------------------------------------------------------------------------

ROUTINE_RATE_METRIC = "routine_log_lines_per_minute"


def _full_minutes(start: datetime, end: datetime) -> list[datetime]:
    """The whole UTC minutes inside [start, end): a partial first or last minute would read as a dip."""
    first = as_utc(start).replace(second=0, microsecond=0)
    if first < as_utc(start):
        first += timedelta(minutes=1)
    minutes = []
    while first + timedelta(minutes=1) <= as_utc(end):
        minutes.append(first)
        first += timedelta(minutes=1)
    return minutes


def routine_rate(signatures: list[Signature], spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, float]]:
    """Lines per minute of the routine templates (INFO templates already seen in the baseline: the requests
    the service serves every day) over the spans the sample covers. New templates (a new version's startup
    lines, new debug output) are left out: more of the same lines is load, new lines are a change."""
    counts: dict[datetime, float] = defaultdict(float)
    for sig in signatures:
        if sig.level is Level.INFO and sig.count_before > 0:
            for minute, count in sig.per_minute.items():
                counts[minute] += count
    return [(minute, counts.get(minute, 0.0)) for start, end in spans for minute in _full_minutes(start, end)]


def log_rate_evidence(
    signatures: list[Signature], spans: list[tuple[datetime, datetime]], ctx: CorrelationContext
) -> list[Evidence]:
    """A metric_shift item (`derived: logs`) when the rate of routine log lines shifted: the request rate as
    the logs show it. Nothing when it did not (the rate is not news then)."""
    points = routine_rate(signatures, spans)
    shift = detect_shift(points) if points else None
    if shift is None:
        return []
    details: dict[str, Any] = {
        "metric": ROUTINE_RATE_METRIC,
        "namespace": "logs",
        "dimensions": {},
        "derived": "logs",
        "stat": "Sum",
        "period": 60,
        "points": len(points),
        "alarm_metric": False,
        "groups": sorted({group for sig in signatures for group in sig.groups}),
        **_shift_details(shift, ctx, points),
        "ratio": round(shift.after / shift.before, 3) if shift.before > 0 else None,
    }
    summary = (
        f"routine log lines of {ctx.service.name} shifted {shift.direction} from {shift.before:g} to "
        f"{shift.after:g} a minute starting {shift.onset:%H:%M}Z, {details['minutes_before_onset']:g} min before "
        "the alarm"
    )
    return [
        Evidence(
            kind=EvidenceKind.METRIC_SHIFT,
            source="logs",
            at=shift.onset,
            entity=f"log rate of {ctx.service.name}",
            summary=summary,
            details=details,
        )
    ]
