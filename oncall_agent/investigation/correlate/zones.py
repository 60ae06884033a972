"""Where a zonal AWS issue can reach: an issue AWS confines to one Availability Zone touches only what runs there.

`elsewhere` (for an AWS event place): the event names its zone, the walk found resources behind the service with
a known zone, none of them is in that zone, and none of our new errors names it. The databases and caches our
calls wait on sit in other zones, so the zone's trouble is not what they show. Our own tasks may still run in
that zone, so it weighs against the event rather than ruling it out.
"""

from __future__ import annotations

from collections.abc import Iterable

from oncall_agent.domain.evidence import Evidence
from oncall_agent.domain.neighbourhood import BEHIND
from oncall_agent.investigation.correlate import symptoms
from oncall_agent.investigation.correlate.candidates import Facts
from oncall_agent.investigation.correlate.cause_common import texts


def event_zones(facts: Facts, evidence_ids: Iterable[str]) -> set[str]:
    """The zones AWS's events among `evidence_ids` are confined to (their `availability_zone`)."""
    wanted = set(evidence_ids)
    return {str(e.details.get("availability_zone")) for e in facts.events if e.id in wanted} - {"None", ""}


def behind_zones(looked_at: list[Evidence]) -> dict[str, str]:
    """Resource id -> zone, for the resources behind the service whose zone the walk read."""
    found: dict[str, str] = {}
    for item in looked_at:
        for resource in item.details.get("resources") or []:
            zone = (resource.get("attributes") or {}).get("availability_zone")
            if resource.get("role") == BEHIND and zone:
                found[str(resource.get("id"))] = str(zone)
    return found


def elsewhere(facts: Facts, evidence_ids: Iterable[str]) -> tuple[str, str, str] | None:
    """(the event's zone, a resource behind us, its zone) when the zonal event cannot reach what is behind us."""
    zones = event_zones(facts, evidence_ids)
    behind = behind_zones(facts.looked_at)
    if len(zones) != 1 or not behind or any(zone in zones for zone in behind.values()):
        return None
    named = symptoms.zones(t for item in facts.signatures for t in texts(item))
    if named & zones:
        return None
    resource, zone = sorted(behind.items())[0]
    return next(iter(zones)), resource, zone
