"""The shape of the golden-signal table (golden_signals.py) and the one function that turns an entry and a
resource into CloudWatch queries. Data types only; the table itself is data.

A `Profile` maps a CloudFormation type (optionally narrowed by `match`, e.g. ALB vs NLB by the id prefix) to a
namespace, the dimension set that names one resource, and its `Signal`s. Dimension values are templates over
the resource: `{id}`, `{id_head}` / `{id_tail}` (the parts before the first / after the last `/`), `{region}`,
`{account}` and any resource attribute (`{load_balancer}`).

A `Signal` is one metric at one statistic with:
- `kind`: load | errors | latency | saturation | blocked | health;
- `bad`: the direction that is bad (`up` or `down`);
- `limit`: a hard limit AWS publishes, in the metric's unit at that statistic (crossed when the value reaches it
  in the bad direction), or `limit_attribute`: the resource attribute that carries it (`max_connections`);
  `limit_per_second` when that attribute is a per-second rate and the statistic a Sum over the period;
  `reserved`: how much of that limit the resource keeps for itself, so clients are refused that much below it
  (PostgreSQL keeps `superuser_reserved_connections`, 3 by default, of `max_connections` for superusers: a pool
  is refused at 397 of 400, and the count never shows 400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from oncall_agent.domain.alarm import MetricSpec

KINDS = frozenset({"load", "errors", "latency", "saturation", "blocked", "health"})
DIRECTIONS = frozenset({"up", "down"})
_FIELD = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Signal:
    metric: str
    stat: str
    kind: str
    bad: str
    limit: float | None = None
    limit_attribute: str | None = None
    limit_per_second: bool = False
    reserved: float = 0.0
    dimensions: dict[str, str] = field(default_factory=dict)  # extra fixed dimensions (DynamoDB `Operation`)


@dataclass(frozen=True)
class Profile:
    type: str
    namespace: str
    dimensions: dict[str, str]
    signals: tuple[Signal, ...]
    doc: str  # the AWS documentation page the metrics and dimensions come from
    match: dict[str, str] = field(default_factory=dict)  # template field -> regex the value must match


@dataclass(frozen=True)
class PlannedSeries:
    """One series to read for one resource, with the signal that says how to judge it."""

    profile: Profile
    signal: Signal
    metric: MetricSpec
    limit: float | None


def template_fields(profile: Profile) -> set[str]:
    return {name for template in profile.dimensions.values() for name in _FIELD.findall(template)}


def _context(resource_id: str, attributes: dict[str, Any], region: str, account: str | None) -> dict[str, str]:
    values = {key: str(value) for key, value in attributes.items() if value is not None}
    values.update(id=resource_id, id_head=resource_id.split("/", maxsplit=1)[0], id_tail=resource_id.rsplit("/", 1)[-1])
    values["region"] = region
    if account and "account" not in values:  # an account ListMetrics reported for the resource comes first
        values["account"] = account
    return values


def applies(profile: Profile, resource_id: str, attributes: dict[str, Any]) -> bool:
    values = _context(resource_id, attributes, "", None)
    return all(re.search(pattern, values.get(name, "")) for name, pattern in profile.match.items())


def missing_fields(
    profile: Profile, resource_id: str, attributes: dict[str, Any], region: str, account: str | None
) -> set[str]:
    """Template fields this resource cannot fill (an OpenSearch domain without a known account, say)."""
    return template_fields(profile) - set(_context(resource_id, attributes, region, account))


def _limit(signal: Signal, attributes: dict[str, Any], period: int) -> float | None:
    """The limit at which clients are refused: the published or carried limit less what the resource reserves."""
    limit = _published_limit(signal, attributes, period)
    if limit is None or not signal.reserved:
        return limit
    return limit - signal.reserved if signal.bad == "up" else limit + signal.reserved


def _published_limit(signal: Signal, attributes: dict[str, Any], period: int) -> float | None:
    value = attributes.get(signal.limit_attribute) if signal.limit_attribute else None
    if value is None:
        return signal.limit
    try:
        limit = float(value)
    except (TypeError, ValueError):
        return signal.limit
    return limit * period if signal.limit_per_second else limit


def plan_series(
    profile: Profile,
    resource_id: str,
    attributes: dict[str, Any],
    region: str,
    account: str | None,
    period: int = 60,
) -> list[PlannedSeries]:
    """The series of `profile` for one resource, or [] when the profile does not apply or a dimension cannot
    be filled."""
    if not applies(profile, resource_id, attributes) or missing_fields(
        profile, resource_id, attributes, region, account
    ):
        return []
    values = _context(resource_id, attributes, region, account)
    dims = {name: template.format_map(values) for name, template in profile.dimensions.items()}
    return [
        PlannedSeries(
            profile=profile,
            signal=signal,
            metric=MetricSpec(
                namespace=profile.namespace,
                name=signal.metric,
                dimensions={**dims, **signal.dimensions},
                stat=signal.stat,
                period=period,
            ),
            limit=_limit(signal, attributes, period),
        )
        for signal in profile.signals
    ]
