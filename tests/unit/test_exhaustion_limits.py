"""Resource exhaustion told apart and weighed: a refused thread is a thread (process) limit even inside an
OutOfMemoryError; a log line stating a count at its hard limit at the onset is decisive; a desired-count change
made by Application Auto Scaling is a reaction to load, not a rival cause, whoever it is logged as."""

from __future__ import annotations

import pytest

from oncall_agent.domain.evidence import Category, Evidence, Hypothesis
from oncall_agent.domain.records import ChangeRecord
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate import symptoms
from oncall_agent.investigation.correlate.rank import rank
from oncall_agent.investigation.correlate.stated_limits import limit_reached, stated_limits
from tests.unit.test_correlate_rank import CTX, at, logs, shift_at

NO_THREAD = (
    "ERROR PeerMesh failed to start sync thread: java.lang.OutOfMemoryError: unable to create native thread: "
    "possibly out of memory or process/resource limits reached"
)
AT_LIMIT = "WARN PeerMesh live threads 4090 of limit 4096 (ulimit -u)"
BELOW_LIMIT = "WARN PeerMesh live threads 2100 of limit 4096 (ulimit -u)"


def test_a_refused_thread_is_a_thread_limit_not_memory() -> None:
    found = symptoms.exhaustion_symptom([NO_THREAD])
    assert found is not None and (found.name, found.kind) == ("thread_exhaustion", "threads")
    heap = symptoms.exhaustion_symptom(["java.lang.OutOfMemoryError: Java heap space"])
    assert heap is not None and heap.kind == "memory"


@pytest.mark.parametrize(
    ("line", "count", "limit"),
    [
        (AT_LIMIT, 4090, 4096),
        ("pool connections 198 of max 200", 198, 200),
        ("threads 4,090/4,096 (limit)", 4090, 4096),
        ("disk inodes 1,990 out of the maximum of 2,000", 1990, 2000),
    ],
)
def test_a_count_at_its_stated_limit_is_read(line: str, count: float, limit: float) -> None:
    stated = limit_reached([line])
    assert stated is not None and (stated.count, stated.limit) == (count, limit)


@pytest.mark.parametrize("line", [BELOW_LIMIT, "peers synced 70/71", "GET /v2/route 200 12ms", "retry 3 of 5"])
def test_a_count_below_its_limit_or_without_one_is_not(line: str) -> None:
    assert limit_reached([line]) is None
    assert all(not s.reached for s in stated_limits([line]))


def scale_out(actor: str, minutes: float = -14) -> list[Evidence]:
    record = ChangeRecord(
        event_id="evt-scale",
        at=at(minutes),
        name="UpdateService",
        source="ecs.amazonaws.com",
        actor=actor,
        resources=["checkout"],
        parameters={"cluster": "prod-web", "service": "checkout", "desiredCount": 72},
    )
    return build.change_evidence([record], CTX)


def ranked(*lines: tuple[float, str], actor: str = "application-autoscaling") -> list[Hypothesis]:
    return rank([*shift_at(10), *logs(*lines), *scale_out(actor)], CTX, 0.5)


def by_category(hypotheses: list[Hypothesis], category: Category) -> Hypothesis:
    return next(h for h in hypotheses if h.category is category)


@pytest.mark.parametrize(
    "actor",
    [
        "application-autoscaling",
        "application-autoscaling.amazonaws.com",
        "arn:aws:sts::1:assumed-role/AWSServiceRoleForApplicationAutoScaling_ECSService/AutoScaling",
    ],
)
def test_an_autoscaler_scale_out_feeds_the_exhaustion_it_triggered(actor: str) -> None:
    hypotheses = ranked((-12, NO_THREAD), (-12, AT_LIMIT), actor=actor)
    top = hypotheses[0]
    assert (top.category, top.culprit) == (Category.RESOURCE_EXHAUSTION, "checkout")
    assert top.features["limit_stated"] == 1.0 and "(threads)" in top.summary
    assert by_category(hypotheses, Category.CONFIG_CHANGE).features["autoscaling"] == 1.0


def test_the_same_scale_out_by_a_person_is_not_marked_autoscaling() -> None:
    change = by_category(ranked((-12, NO_THREAD), (-12, AT_LIMIT), actor="pmorales"), Category.CONFIG_CHANGE)
    assert change.features["autoscaling"] == 0.0


def test_a_limit_stated_at_the_onset_is_what_makes_it_decisive() -> None:
    at_limit = by_category(ranked((-12, NO_THREAD), (-12, AT_LIMIT)), Category.RESOURCE_EXHAUSTION)
    below = by_category(ranked((-12, NO_THREAD), (-12, BELOW_LIMIT)), Category.RESOURCE_EXHAUSTION)
    late = by_category(ranked((-12, NO_THREAD), (-3, AT_LIMIT)), Category.RESOURCE_EXHAUSTION)  # after the shift
    assert below.features["limit_stated"] == 0.0 and late.features["limit_stated"] == 0.0
    assert at_limit.confidence > below.confidence + 0.1


def test_the_scale_out_is_the_exhaustions_trigger_only_when_autoscaling_made_it() -> None:
    by_autoscaler = by_category(ranked((-12, NO_THREAD), (-12, AT_LIMIT)), Category.RESOURCE_EXHAUSTION)
    by_a_person = by_category(ranked((-12, NO_THREAD), (-12, AT_LIMIT), actor="pmorales"), Category.RESOURCE_EXHAUSTION)
    assert by_autoscaler.features["scaled_out_first"] == 1.0 and "the trigger, not the cause" in by_autoscaler.summary
    assert by_a_person.features["scaled_out_first"] == 0.0
    long_before = by_category(
        rank([*shift_at(10), *logs((-12, NO_THREAD)), *scale_out("application-autoscaling", -60)], CTX, 0.5),
        Category.RESOURCE_EXHAUSTION,
    )
    assert long_before.features["scaled_out_first"] == 0.0
