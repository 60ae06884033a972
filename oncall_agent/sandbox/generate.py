"""Pure generators for a scenario's metric series and log lines (no I/O).

Output depends only on the spec, `now` and a string seed; callers derive the seed from the scenario id
(`f"{scenario.id}:metrics:{index}"`), and `random.Random(str)` hashes it with SHA-512, so the same scenario
yields the same data in every process (unlike `hash()`, which is salted per process).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from oncall_agent.domain.time import as_utc
from oncall_agent.sandbox.scenario import Scenario
from oncall_agent.sandbox.scenario_model import (
    AlarmSpec,
    LineGenerator,
    LogGroupSpec,
    MetricQuery,
    MetricRef,
    MetricSeries,
)
from oncall_agent.sandbox.scenario_resources import point_offsets
from oncall_agent.sandbox.scenario_types import SERIES_WINDOW, resolve_time, substitute_times

Level = Callable[[float], float]
"""The noiseless level of a series as a function of seconds relative to now (negative = past)."""

_PLACEHOLDER = re.compile(r"\{(n|ms|id)\}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def series_timestamps(period: int, now: datetime) -> list[datetime]:
    """One timestamp per period in [now - 3h, now], on period boundaries (as CloudWatch buckets them)."""
    now_s = (as_utc(now) - _EPOCH).total_seconds()
    first = math.ceil((now_s - SERIES_WINDOW.total_seconds()) / period)
    last = math.floor(now_s / period)
    return [_EPOCH + timedelta(seconds=k * period) for k in range(first, last + 1)]


def _constant(value: float) -> Level:
    return lambda _offset: value


def _ramp(start_value: float, end_value: float, start: float, end: float) -> Level:
    def level(offset: float) -> float:
        share = min(1.0, max(0.0, (offset - start) / (end - start)))
        return start_value + (end_value - start_value) * share

    return level


def level_at(series: MetricSeries, offset: float) -> float:
    """The series level (no noise) `offset` seconds from now, after every change at or before it.

    Changes apply in time order: a step sets the level from `at` on; a ramp goes linearly from the level it
    finds at `at` to `ramp_to` at `until` and holds there, until a later change takes over.
    """
    if series.points is not None:
        return _recorded_level(series, offset)
    assert series.baseline is not None  # a generated series (the loader checks one of the two is given)
    level = _constant(series.baseline)
    for change in sorted(series.changes, key=lambda c: c.at):
        start = change.at.total_seconds()
        if offset < start:
            break
        if change.to is not None:
            level = _constant(change.to)
        elif change.ramp_to is not None:
            level = _ramp(level(start), change.ramp_to, start, change.ramp_end.total_seconds())
    return level(offset)


def _recorded_level(series: MetricSeries, offset: float) -> float:
    """A recorded series' value at `offset`: the last point at or before it (the first point before any)."""
    assert series.points is not None
    known = [(at.total_seconds(), v) for at, v in point_offsets(series.points, series.metric.period) if v is not None]
    if not known:
        return 0.0
    before = [value for at, value in known if at <= offset]
    return before[-1] if before else known[0][1]


def recorded_points(series: MetricSeries, now: datetime) -> list[tuple[datetime, float]]:
    """A `points` series as (timestamp, value), nulls left out, each time on its period's boundary (where
    CloudWatch buckets it) so one value a period stays one datapoint a period."""
    assert series.points is not None
    period = series.metric.period
    points = []
    for offset, value in point_offsets(series.points, period):
        if value is None:
            continue
        seconds = (resolve_time(offset, now) - _EPOCH).total_seconds()
        points.append((_EPOCH + timedelta(seconds=math.floor(seconds / period) * period), value))
    return points


def metric_points(series: MetricSeries, now: datetime, seed: str) -> list[tuple[datetime, float]]:
    """One (timestamp, value) per period from -3h to now: level plus uniform noise in [-noise, +noise].

    A series whose level is non-negative never goes below zero (counts and latencies cannot). A recorded
    series (`points`) gives its points as written.
    """
    if series.points is not None:
        return recorded_points(series, now)
    rng = random.Random(seed)
    now_utc = as_utc(now)
    points = []
    for moment in series_timestamps(series.metric.period, now_utc):
        level = level_at(series, (moment - now_utc).total_seconds())
        value = level + rng.uniform(-series.noise, series.noise)
        points.append((moment, max(0.0, value) if level >= 0 else value))
    return points


def _placeholder_value(name: str, rng: random.Random) -> str:
    if name == "n":
        return str(rng.randint(1, 999))
    if name == "ms":
        # Latencies are roughly log-normal: mostly tens of milliseconds, with a long tail.
        return str(max(1, round(rng.lognormvariate(math.log(45), 0.6))))
    return f"{rng.getrandbits(48):012x}"


def expand(template: str, rng: random.Random) -> str:
    """Fill `{n}` (a number), `{ms}` (a latency) and `{id}` (a hex id); other braces stay as written."""
    return _PLACEHOLDER.sub(lambda match: _placeholder_value(match[1], rng), template)


def _to_millis(moment: datetime) -> datetime:
    # CloudWatch Logs keeps milliseconds; truncating (never rounding up) keeps a line inside its slot.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def generated_lines(generator: LineGenerator, now: datetime, rng: random.Random) -> Iterator[tuple[datetime, str]]:
    """`per_minute` lines a minute in [from, until): one at a random moment in each 60/per_minute slot."""
    start = resolve_time(generator.from_, now)
    slot = 60.0 / generator.per_minute
    count = int((generator.until - generator.from_).total_seconds() // slot)
    template = substitute_times(generator.template, now)
    for index in range(count):
        moment = start + timedelta(seconds=(index + rng.random()) * slot)
        yield _to_millis(moment), expand(template, rng)


def log_lines(spec: LogGroupSpec, now: datetime, seed: str) -> list[tuple[datetime, str]]:
    """Every line of one `logs` entry (generated and raw), sorted by time."""
    lines: list[tuple[datetime, str]] = []
    for index, generator in enumerate(spec.lines):
        lines.extend(generated_lines(generator, now, random.Random(f"{seed}:lines:{index}")))
    raw_rng = random.Random(f"{seed}:raw")
    lines.extend(
        (_to_millis(resolve_time(raw.at, now)), expand(substitute_times(raw.message, now), raw_rng)) for raw in spec.raw
    )
    lines.sort(key=lambda line: line[0])
    return lines


COMPARISON_PHRASES = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


def _cloudwatch_time(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def breach_reason(alarm: AlarmSpec, points: list[tuple[datetime, float]], now: datetime) -> tuple[str, dict[str, Any]]:
    """The StateReason and StateReasonData CloudWatch writes when `alarm` goes OK -> ALARM on `points`.

    Uses the last `evaluation_periods` points at or before `now`, in CloudWatch's wording and date format
    (`Threshold Crossed: 3 out of the last 3 datapoints [140.0 (24/11/26 23:57:00), ...] were greater ...`).
    """
    recent = [point for point in points if point[0] <= as_utc(now)][-alarm.evaluation_periods :]
    count = len(recent)
    listed = ", ".join(f"{value!r} ({at.strftime('%d/%m/%y %H:%M:%S')})" for at, value in reversed(recent))
    plural = "datapoints" if count != 1 else "datapoint"
    verb = "were" if count != 1 else "was"
    reason = (
        f"Threshold Crossed: {count} out of the last {count} datapoints [{listed}] {verb} "
        f"{COMPARISON_PHRASES[alarm.comparison]} the threshold ({float(alarm.threshold)!r}) "
        f"(minimum {count} {plural} for OK -> ALARM transition)."
    )
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": _cloudwatch_time(now),
        "startDate": _cloudwatch_time(recent[0][0] if recent else now),
        "statistic": alarm.metric.stat,
        "period": alarm.metric.period,
        "recentDatapoints": [value for _, value in recent],
        "threshold": float(alarm.threshold),
    }
    return reason, data


def series_index(scenario: Scenario, metric: MetricRef | MetricQuery) -> int | None:
    """Index of the `metrics` series for this metric (namespace, name, dimensions), if the scenario has one."""
    key = (metric.namespace, metric.name, metric.dimensions)
    found = [
        index
        for index, series in enumerate(scenario.metrics)
        if (series.metric.namespace, series.metric.name, series.metric.dimensions) == key
    ]
    # Format 2 may record several statistics of one metric (p50 and p99): the alarm's own wins.
    same_stat = [index for index in found if scenario.metrics[index].metric.stat == metric.stat]
    return (same_stat or found)[0] if found else None


def alarm_points(scenario: Scenario, alarm: AlarmSpec, now: datetime) -> list[tuple[datetime, float]]:
    """The seeded points of the series `alarm` watches (same seed as seeding), or [] when none is seeded."""
    index = series_index(scenario, alarm.metric)
    if index is None:
        return []
    return metric_points(scenario.metrics[index], now, f"{scenario.id}:metrics:{index}")
