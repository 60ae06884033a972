"""The neighbourhood's part of the ranking: the timeline read once per ranking, change plausibility and path
order for each change candidate (`change_fit`), and the candidates read off the path (`path_causes`), with the
tie-break between a dependency and a resource of it: the deeper one that moved first is the cause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from oncall_agent.domain.evidence import Category, Evidence
from oncall_agent.investigation.correlate.candidates import Facts
from oncall_agent.investigation.correlate.change_fit import effects_of, fit_features, observed, path_order_features
from oncall_agent.investigation.correlate.driven import DRIVEN_WEIGHT
from oncall_agent.investigation.correlate.effect_seen import effect_named_features
from oncall_agent.investigation.correlate.features import SLACK_MINUTES, Scored
from oncall_agent.investigation.correlate.path_causes import PATH_WEIGHTS, Place, path_features, places
from oncall_agent.investigation.correlate.timeline import Anomaly, path_roles, read_timeline

DEEPER_FIRST_WEIGHT = 0.5
OWN_RESOURCE_FIRST_WEIGHT = -1.0


@dataclass(frozen=True)
class Path:
    timeline: list[Anomaly]
    roles: dict[str, tuple[str, str, str]]
    seen: frozenset[str]


def read_path(facts: Facts) -> Path:
    items = [*facts.neighbours, *facts.events, *facts.looked_at]
    timeline = read_timeline(items)
    return Path(timeline, path_roles(items), observed(facts, timeline))


def inert(change: Evidence | None) -> bool:
    """A change whose kind cannot break requests (change_effects.yaml: no effects)."""
    if change is None or "source" not in change.details:
        return False
    return effects_of(str(change.details.get("source")), str(change.details.get("name") or "")) == frozenset()


def change_path_counters(scored: Scored, change: Evidence | None, facts: Facts, path: Path) -> None:
    """Change plausibility and path order for one change candidate."""
    if change is not None:
        fit_features(scored, change.details, path.roles, path.seen, facts)
        effects = effects_of(str(change.details.get("source") or ""), str(change.details.get("name") or ""))
        effect_named_features(scored, change.details, effects, path.timeline, facts.events)
    path_order_features(scored, scored.candidate, path.timeline, facts)


def _deeper_first(scored: list[tuple[Place, Scored]]) -> None:
    """A dependency whose own resource (its table, its database) went bad no later than its compute is a
    fellow victim of that resource: the resource gets `deeper_first`, the dependency `own_resource_first`."""
    for place, item in scored:
        if place.category is not Category.DEPENDENCY or place.dependency != place.key:
            continue
        start = place.anomalies[0].at
        for other, deeper in scored:
            if other.dependency == place.key and other is not place:
                lead = (start - other.anomalies[0].at).total_seconds() / 60
                if lead >= -SLACK_MINUTES:
                    deeper.features["deeper_first"] = 1.0
                    deeper.notes["deeper_first"] = f"it went bad before {place.key} itself did"
                    item.features["own_resource_first"] = 1.0
                    item.notes["own_resource_first"] = f"but its {other.key} went bad first"


def path_scored(
    facts: Facts,
    path: Path,
    change_best: tuple[float, str, datetime | None] | None,
    load: tuple[float, datetime] | None = None,
) -> list[tuple[Scored, dict[str, float]]]:
    """`load`: how much more traffic came (ratio) and when, if it did."""
    found = [
        (place, path_features(place, facts, change_best, path.timeline, load)) for place in places(path.timeline, facts)
    ]
    _deeper_first(found)
    weights = {
        **PATH_WEIGHTS,
        "deeper_first": DEEPER_FIRST_WEIGHT,
        "own_resource_first": OWN_RESOURCE_FIRST_WEIGHT,
        "our_release_drove_it": DRIVEN_WEIGHT,
    }
    return [(item, weights) for _, item in found]
