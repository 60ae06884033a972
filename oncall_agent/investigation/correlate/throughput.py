"""A throughput regression without errors: at a change of this service the work it completes per minute falls
(messages deleted from the queue it consumes, its routine "job completed" log lines) while the work arriving is
unchanged. A release that makes workers slow - a lock that is now held for its full lease, a pool that is now
serial - fails nothing and logs no new error; the only evidence is that less work gets done from that minute, and
that is evidence for the change. The alarm comes much later, from an accumulating metric (a queue's age).

`throughput_drop` (a change feature, this service's changes only): exp(-lag / 5) for the first completed-work
signal that fell starting between 2 minutes before the change and 15 minutes after it (lag: minutes from the change
less a minute of per-minute disorder, 0 when it fell at the change), when no signal of arriving work (requests at
the front, messages sent to the queue) fell within 5 minutes of it: fewer requests in is not a slower service.

Completed work: a neighbourhood load signal of the service itself or of a resource behind it that is bad when it
falls (`NumberOfMessagesDeleted`), and the service's routine log lines falling. Arriving work: any other load
signal (bad when it rises, or in front of the service).
"""

from __future__ import annotations

import math
from datetime import datetime

from oncall_agent.domain.evidence import Evidence
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate.candidates import Facts
from oncall_agent.investigation.correlate.features import SLACK_MINUTES, Scored

WITHIN_MINUTES = 15.0
LAG_MINUTES = 5.0
DEMAND_MINUTES = 5.0


def _minutes(later: datetime, earlier: datetime) -> float:
    return (as_utc(later) - as_utc(earlier)).total_seconds() / 60


def _fell(item: Evidence) -> bool:
    return bool(item.details.get("detected")) and item.details.get("direction") == "down" and item.at is not None


def completed_work_drops(facts: Facts) -> list[Evidence]:
    """Signals of work done that fell, earliest first."""
    done = [
        e
        for e in facts.neighbours
        if e.details.get("signal_kind") == "load"
        and e.details.get("bad_direction") == "down"
        and e.details.get("role") in ("self", "behind")
        and _fell(e)
    ]
    done += [e for e in facts.shifts if e.details.get("derived") == "logs" and _fell(e)]
    return sorted(done, key=lambda e: (as_utc(e.at or facts.reference), e.id))


def _demand_fell(at: datetime, facts: Facts) -> bool:
    arriving = (
        e
        for e in facts.neighbours
        if e.details.get("signal_kind") == "load"
        and (e.details.get("bad_direction") != "down" or e.details.get("role") == "front")
        and _fell(e)
    )
    return any(abs(_minutes(e.at or at, at)) <= DEMAND_MINUTES for e in arriving)


def throughput_drop(scored: Scored, facts: Facts) -> None:
    """`throughput_drop` for a change candidate (module docstring)."""
    at = scored.candidate.at
    scored.features["throughput_drop"] = 0.0
    if at is None or scored.candidate.on_service < 1.0:
        return
    for drop in completed_work_drops(facts):
        lag = _minutes(drop.at or at, at)
        if not -SLACK_MINUTES <= lag <= WITHIN_MINUTES or _demand_fell(drop.at or at, facts):
            continue
        # Change points are per minute: a fall in the minute after the change is at it.
        scored.features["throughput_drop"] = round(math.exp(-max(lag - SLACK_MINUTES / 2, 0.0) / LAG_MINUTES), 3)
        scored.notes["throughput_drop"] = f"the work it completes fell {_when(lag)} with no less work arriving"
        scored.evidence_for.append(drop.id)
        return


def _when(lag: float) -> str:
    return "at it" if lag <= 1.0 else f"{lag:.0f} min after it"
