"""Neighbourhood evidence: golden-signal series -> `metric_shift` items, and one `looked_at` item.

`metric_shift` (source `neighbourhood`), emitted for a series whose level shifted (change point) or that
reached its hard limit; `entity` is the resource id. `details`:
    neighbourhood: true; detected: bool (a level shift); alarm_metric: false
    resource_type, role (front | self | behind | dependency:<service>), owner (catalog service), via [how found]
    signal_kind (load | errors | latency | saturation | blocked | health), bad_direction (up | down),
    bad: bool (the shift went the bad way)
    metric, namespace, dimensions, stat, period, points
    onset, before, after, magnitude, relative, direction, score, minutes_before_onset, rise_minutes (when detected)
    limit (the hard limit, when known), crossed_limit_at (first point at or beyond it, ISO, else null; a floor of
    0 counts as reached within 1% of the series' fullest value), at_limit_from_start (the first point was already
    there), at_limit_now (the last point still is), peak (the worst value in the bad direction)
`at` is the onset, or the crossing when only the limit was reached.

`looked_at` (source `neighbourhood`, entity = the service): `details.resources` = [{type, id, role, owner, via,
series, attributes}], `details.series` (how many were read), `details.gaps` (what could not be listed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from oncall_agent.domain.evidence import Evidence, EvidenceKind
from oncall_agent.domain.neighbourhood import Neighbourhood, Resource
from oncall_agent.domain.records import MetricSeries
from oncall_agent.investigation.correlate.changepoint import Shift, detect_shift, rise_minutes
from oncall_agent.investigation.correlate.context import CorrelationContext, iso
from oncall_agent.investigation.neighbourhood.signal_model import PlannedSeries

SOURCE = "neighbourhood"
EMPTY_SHARE = 0.01
SHORT_BASELINE = 4
SHORT_BASELINE_THRESHOLD = 20.0
SHORT_BASELINE_MIN_RELATIVE = 0.5


def _effective_limit(points: list[tuple[datetime, float]], limit: float, bad: str) -> float:
    """A free-space floor of 0 (free storage, freeable memory, burst credits) is never quite reached: AWS keeps a
    reserve. Within EMPTY_SHARE of the series' fullest value, it is empty."""
    if bad == "down" and limit == 0:
        return EMPTY_SHARE * max(value for _, value in points)
    return limit


def _crossing(
    points: list[tuple[datetime, float]], limit: float | None, bad: str
) -> tuple[datetime | None, bool, bool]:
    """(first point at or beyond the limit, whether that was the first point read, whether the last one still is)."""
    if limit is None:
        return None, False, False
    limit = _effective_limit(points, limit, bad)
    beyond = [at for at, value in points if (value >= limit if bad == "up" else value <= limit)]
    if not beyond:
        return None, False, False
    return beyond[0], beyond[0] == points[0][0], beyond[-1] == points[-1][0]


def _climb_minutes(points: list[tuple[datetime, float]], crossed: datetime | None, bad: str) -> float:
    """For a limit reached without a level shift (a slide over the whole window): minutes from the last point
    still within a tenth of its best level (fullest, lowest) before the crossing to the crossing, so a slow
    burn shows as one and a noisy level that dropped at once does not."""
    before = [(at, value) for at, value in points if crossed is not None and at <= crossed]
    if not before:
        return 0.0
    values = [value for _, value in before]
    best, worst = (max(values), min(values)) if bad == "down" else (min(values), max(values))
    near = [at for at, value in before if abs(value - best) <= 0.1 * abs(best - worst)]
    return round((before[-1][0] - near[-1]).total_seconds() / 60, 2)


def _shift(points: list[tuple[datetime, float]]) -> Shift | None:
    """A recorded series may start shortly before the incident: ask for a baseline of a quarter of it (at least
    4 points, at most the usual 10) so a step after a few quiet minutes is still found; failing that, a step
    after as few as 4 quiet points, when it is far beyond their noise (SHORT_BASELINE_THRESHOLD sigmas) and at least
    half their level."""
    shift = detect_shift(points, min_before=min(10, max(4, len(points) // 4)))
    if shift is None and len(points) >= 2 * SHORT_BASELINE:
        short = detect_shift(points, min_before=SHORT_BASELINE, threshold=SHORT_BASELINE_THRESHOLD)
        # A few points say little about the noise: only a step of at least half the level is taken from them.
        if short is not None and short.relative is not None and abs(short.relative) >= SHORT_BASELINE_MIN_RELATIVE:
            return short
    return shift


def _shift_fields(shift: Shift, points: list[tuple[datetime, float]], ctx: CorrelationContext) -> dict[str, Any]:
    return {
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


def _summary(resource: Resource, planned: PlannedSeries, shift: Shift | None, crossed: datetime | None) -> str:
    signal = planned.signal
    what = f"{resource.type.split('::')[-1]} {resource.id} ({resource.role}): {signal.metric} ({signal.stat})"
    parts = []
    if shift is not None:
        parts.append(f"shifted {shift.direction} from {shift.before:g} to {shift.after:g} at {shift.onset:%H:%M}Z")
    if crossed is not None:
        parts.append(f"reached its limit {planned.limit:g} at {crossed:%H:%M}Z")
    return f"{what} {' and '.join(parts)}"[:500]


def series_evidence(
    resource: Resource, planned: PlannedSeries, series: MetricSeries, ctx: CorrelationContext
) -> Evidence | None:
    """A metric_shift item for one golden-signal series, or None when it neither shifted nor hit its limit."""
    points = series.points
    if not points:
        return None
    shift = _shift(points)
    crossed, from_start, at_limit_now = _crossing(points, planned.limit, planned.signal.bad)
    if shift is None and crossed is None:
        return None
    values = [value for _, value in points]
    bad = planned.signal.bad
    details: dict[str, Any] = {
        "neighbourhood": True,
        "detected": shift is not None,
        "alarm_metric": False,
        "resource_type": resource.type,
        "role": resource.role,
        "owner": resource.owner,
        "via": [v.value for v in resource.via],
        "signal_kind": planned.signal.kind,
        "bad_direction": planned.signal.bad,
        "bad": shift is not None and shift.direction == planned.signal.bad,
        "metric": series.metric.name,
        "namespace": series.metric.namespace,
        "dimensions": dict(series.metric.dimensions),
        "stat": series.stat,
        "period": series.period,
        "points": len(points),
        "limit": planned.limit,
        "crossed_limit_at": iso(crossed) if crossed else None,
        "at_limit_from_start": from_start,
        "at_limit_now": at_limit_now,
        "peak": max(values) if planned.signal.bad == "up" else min(values),
        **(_shift_fields(shift, points, ctx) if shift else {"rise_minutes": _climb_minutes(points, crossed, bad)}),
    }
    at = shift.onset if shift else crossed
    summary = _summary(resource, planned, shift, crossed)
    return Evidence(
        kind=EvidenceKind.METRIC_SHIFT, source=SOURCE, at=at, entity=resource.id, summary=summary, details=details
    )


def looked_at(found: Neighbourhood, series_per_resource: dict[tuple[str, str], int], read: int) -> Evidence:
    """What the walk looked at: every resource, its role, how it was found and how many series were read."""
    resources = [
        {
            "type": r.type,
            "id": r.id,
            "role": r.role,
            "owner": r.owner,
            "via": [v.value for v in r.via],
            "series": series_per_resource.get(r.key, 0),
            "attributes": {k: str(v) for k, v in r.attributes.items()},
        }
        for r in found.resources
    ]
    names = ", ".join(f"{r['id']} ({r['role']})" for r in resources[:12])
    more = f" and {len(resources) - 12} more" if len(resources) > 12 else ""
    summary = f"Looked at {len(resources)} resources around {found.service}: {names}{more}; {read} series read"
    return Evidence(
        kind=EvidenceKind.LOOKED_AT,
        source=SOURCE,
        entity=found.service,
        summary=summary[:500],
        details={"resources": resources, "series": read, "gaps": list(found.gaps)},
    )
