"""A release of ours that multiplied what we send to something on our path.

When the load a dependency or a resource behind us receives (its incoming records, requests, invocations)
steps up several-fold within minutes of a release of ours, while the requests reaching our own front door do
not, the release changed how much we call it: per request, not with the traffic. Whatever goes wrong on that
resource later (throttling, a lag alarm, a full queue) is then what the release did, not a failure of its own,
however long the release had been live, and a later rise of our traffic only makes the release's load bigger.

- `driven_by(at, timeline, neighbours)`: the strongest such step for a change made at `at`, or None. Our own
  front door's load must have been read (otherwise traffic passing through cannot be told apart) and must not
  have stepped in the same minutes.
- `drove_features(scored, ...)`: on a change of the alarmed service, `drove_path` (and its note and evidence);
  the counters that are its consequences are cleared: `upstream_alarm_first` and `path_moved_later` when they
  point at what it drove, `load_surge` (the traffic it multiplied).
- `driven_features(scored, drivers)`: on a dependency or a resource that a release of ours drove,
  `our_release_drove_it`: it is a victim of our calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall_agent.domain.evidence import Evidence
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate.features import Scored
from oncall_agent.investigation.correlate.timeline import Anomaly, is_neighbour_shift

DRIVEN_WITHIN = timedelta(minutes=5)
"""How soon after a release the driven load must have stepped (per-minute data: the release's own minute counts,
one minute before it too, since a deploy's timestamp and the first new task's traffic straddle a minute)."""
DRIVEN_RATIO = 3.0
"""How many times its load before the step the driven resource must receive after it."""
OURS = ("front", "self")
DRIVEN_ROLES = ("behind", "dependency:")

DROVE_WEIGHT = 3.0
DRIVEN_WEIGHT = -2.5


@dataclass(frozen=True)
class Driven:
    """A resource whose load a change stepped up: the anomaly, its owner (a dependency's name, or ""), ratio."""

    anomaly: Anomaly
    ratio: float

    @property
    def names(self) -> frozenset[str]:
        return frozenset(n for n in (self.anomaly.resource, self.anomaly.owner) if n)


def _ratio(item: Evidence) -> float:
    before, after = item.details.get("before"), item.details.get("after")
    if not isinstance(before, (int, float)) or not isinstance(after, (int, float)) or after <= 0:
        return 0.0
    return float("inf") if before <= 0 else float(after) / float(before)


def _near(moment: datetime, at: datetime) -> bool:
    return at - timedelta(minutes=1) <= moment <= at + DRIVEN_WITHIN


def driven_by(at: datetime | None, timeline: list[Anomaly], neighbours: list[Evidence]) -> Driven | None:
    """The largest load step on a resource behind us or of a dependency right after `at` (see the docstring)."""
    if at is None:
        return None
    at = as_utc(at)
    shifts = {e.id: e for e in neighbours if is_neighbour_shift(e)}
    our_load = [
        e for e in shifts.values() if str(e.details.get("role")) in OURS and e.details.get("signal_kind") == "load"
    ]
    if not our_load:
        return None
    if any(a.kind == "load" and a.role in OURS and _near(a.at, at) for a in timeline):
        return None  # our own traffic stepped too: the resource got what came through us
    found = [
        Driven(a, _ratio(shifts[a.evidence_id]))
        for a in timeline
        if a.kind == "load"
        and a.role.startswith(DRIVEN_ROLES)
        and not a.event
        and _near(a.at, at)
        and a.evidence_id in shifts
    ]
    found = [d for d in found if d.ratio >= DRIVEN_RATIO]
    return max(found, key=lambda d: d.ratio, default=None)


def _times(ratio: float) -> str:
    return "many times" if ratio == float("inf") else f"{ratio:.0f} times"


def drove_features(scored: Scored, driven: Driven | None, timeline: list[Anomaly], alarming: set[str]) -> None:
    """`drove_path` on a change of ours (see the module docstring); `alarming`: the dependencies whose alarms
    gave it `upstream_alarm_first`."""
    ours = scored.candidate.on_service >= 1.0
    scored.features["drove_path"] = 1.0 if ours and driven else 0.0
    if not ours or driven is None:
        return
    what = driven.anomaly
    scored.notes["drove_path"] = (
        f"{what.what} of {what.resource} stepped up {_times(driven.ratio)} right after it, while our own traffic "
        "did not: it sends more per request"
    )
    scored.evidence_for.append(what.evidence_id)
    scored.evidence_against = [e for e in scored.evidence_against if e != what.evidence_id]
    victims = driven.names
    consequences = {a.evidence_id for a in timeline if a.resource in victims or (a.owner and a.owner in victims)}
    if scored.features.get("path_moved_later") and consequences:
        scored.features["path_moved_later"] = 0.0
        scored.notes.pop("path_moved_later", None)
    if scored.features.get("upstream_alarm_first") and alarming and alarming <= victims:
        scored.features["upstream_alarm_first"] = 0.0
        scored.notes.pop("upstream_alarm_first", None)
    if scored.features.get("load_surge"):
        scored.features["load_surge"] = 0.0
        scored.notes["load_surge"] = "the traffic rose later, which multiplied what it sends"
    scored.evidence_against = [e for e in scored.evidence_against if e not in consequences]


def driven_features(scored: Scored, drivers: list[tuple[Driven, str]]) -> None:
    """`our_release_drove_it` on a dependency or path candidate that one of `drivers` (driven, change label)
    names."""
    culprit = scored.candidate.culprit
    hit = next(((d, label) for d, label in drivers if culprit and culprit in d.names), None)
    scored.features["our_release_drove_it"] = 1.0 if hit else 0.0
    if hit:
        driven, label = hit
        scored.notes["our_release_drove_it"] = (
            f"but its {driven.anomaly.what} stepped up {_times(driven.ratio)} right after {label}: "
            "it is taking our calls"
        )
        scored.evidence_against.append(driven.anomaly.evidence_id)
