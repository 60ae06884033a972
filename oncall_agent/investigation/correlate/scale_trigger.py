"""An autoscaler's scale-out as the trigger of an exhaustion, not a rival cause. Adding tasks cannot fail requests
by itself; it can push a per-task or shared limit over the edge (each task opens a thread per peer, a pool per task
fills the database). The change then belongs to the exhaustion hypothesis as its trigger: the autoscaler acted, the
limit is what broke, and restarting the tasks recreates the same state (the runbook escalates instead).

`scaled_out_first` (a resource-exhaustion feature, this service's own resource only): 1 when a change made by
Application Auto Scaling or EC2 Auto Scaling (`cause_features.AUTOSCALING_ACTORS`) came within 30 minutes before
the strain's first sign (2 minutes slack after it).
"""

from __future__ import annotations

from datetime import timedelta

from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate.candidates import Facts
from oncall_agent.investigation.correlate.cause_common import own_resource
from oncall_agent.investigation.correlate.cause_features import AUTOSCALING_ACTORS
from oncall_agent.investigation.correlate.features import SLACK_MINUTES, Scored

TRIGGER_WINDOW = timedelta(minutes=30)


def scaled_out_first(scored: Scored, facts: Facts) -> None:
    """`scaled_out_first` for a resource-exhaustion candidate (module docstring)."""
    scored.features["scaled_out_first"] = 0.0
    began = scored.candidate.at
    if began is None or scored.candidate.culprit != own_resource(facts):
        return
    began = as_utc(began)
    for change in facts.changes:
        actor = str(change.details.get("actor") or "")
        if change.at is None or not AUTOSCALING_ACTORS.search(actor):
            continue
        lead = began - as_utc(change.at)
        if -timedelta(minutes=SLACK_MINUTES) <= lead <= TRIGGER_WINDOW:
            scored.features["scaled_out_first"] = 1.0
            name = change.details.get("name") or "a change"
            scored.notes["scaled_out_first"] = f"autoscaling's {name} came just before it: the trigger, not the cause"
            scored.evidence_for.append(change.id)
            return
