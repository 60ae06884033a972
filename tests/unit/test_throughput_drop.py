"""A throughput regression without errors is evidence for the change it started at: the messages a worker deletes
from its queue fall at its deploy while the messages sent stay flat, and the deploy - which otherwise has only its
timing, long before a queue-age alarm - is named. Not when the work arriving fell too, when the fall came long
after the deploy, or when the change is not this service's."""

from __future__ import annotations

from oncall_agent.domain.evidence import Evidence, Hypothesis
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.rank import rank
from tests.unit.test_correlate_path import find, neighbour
from tests.unit.test_correlate_rank import CTX, deploy, shift_at

QUEUE = {"rtype": "AWS::SQS::Queue", "kind": "load"}


def deleted_fell(minutes: float) -> Evidence:
    return neighbour("jobs", "NumberOfMessagesDeleted", minutes, bad="down", direction="down", **QUEUE)


def sent_fell(minutes: float) -> Evidence:
    return neighbour("jobs", "NumberOfMessagesSent", minutes, bad="up", direction="down", **QUEUE)


def ranked(*extra: Evidence, deployed: float = -37, service: str = "checkout") -> list[Hypothesis]:
    """A deploy 37 minutes before a queue-age-like alarm whose metric moved 2 minutes after the deploy."""
    record = deploy(minutes=deployed, service=service)
    return rank([*shift_at(34), *build.deploy_evidence([record], CTX), *extra], CTX)


def test_work_done_falling_at_the_deploy_with_demand_flat_names_the_deploy() -> None:
    plain = find(ranked(), "checkout:118")
    dropped = find(ranked(deleted_fell(-36)), "checkout:118")
    assert plain.features["throughput_drop"] == 0.0 and plain.confidence < 0.55
    assert dropped.features["throughput_drop"] == 1.0 and dropped.confidence >= 0.7
    assert "the work it completes fell at it" in dropped.summary


def test_not_when_the_work_arriving_fell_too() -> None:
    both = find(ranked(deleted_fell(-36), sent_fell(-35)), "checkout:118")
    assert both.features["throughput_drop"] == 0.0


def test_not_when_the_fall_came_long_after_the_deploy() -> None:
    late = find(ranked(deleted_fell(-10)), "checkout:118")
    assert late.features["throughput_drop"] == 0.0


def test_a_fall_a_few_minutes_after_counts_less_than_one_at_the_deploy() -> None:
    after = find(ranked(deleted_fell(-31)), "checkout:118").features["throughput_drop"]
    assert 0.0 < after < 0.5
