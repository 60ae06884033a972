"""domain.grouping.decide (where an alarm event goes) and domain.catalog.service_for_alarm (whose it is)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oncall_agent.domain.alarm import AlarmEvent, AlarmState, EventChannel, MetricSpec
from oncall_agent.domain.catalog import EcsTarget, LambdaTarget, ResourceRef, Service, service_for_alarm
from oncall_agent.domain.grouping import GroupingOutcome, OpenIncidentView, decide, view_after

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
Out = GroupingOutcome


def arn(name: str) -> str:
    return f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"


def event(
    name: str = "checkout-5xx",
    state: AlarmState = AlarmState.ALARM,
    at: datetime = T0,
    *,
    tags: dict[str, str] | None = None,
    metric: MetricSpec | None = None,
    metrics: list[MetricSpec] | None = None,
) -> AlarmEvent:
    return AlarmEvent(
        channel=EventChannel.POLL,
        region="us-east-1",
        alarm_arn=arn(name),
        alarm_name=name,
        new_state=state,
        state_timestamp=at,
        tags=tags or {},
        metric=metric,
        metrics=metrics or [],
    )


def incident(
    incident_id: str = "inc-1",
    service: str = "checkout",
    last: datetime = T0,
    alarms: dict[str, datetime] | None = None,
) -> OpenIncidentView:
    states = {arn(name): (AlarmState.ALARM, at) for name, at in (alarms or {}).items()}
    return OpenIncidentView(incident_id, service, last, last, alarm_states=states)


# --- decide -----------------------------------------------------------------------------------------------


def test_alarm_joins_the_incident_that_holds_it_whatever_the_time() -> None:
    holder = incident("inc-1", last=T0, alarms={"checkout-5xx": T0})
    decision = decide(event(at=T0 + timedelta(hours=6)), "checkout", [holder], WINDOW)
    assert (decision.outcome, decision.incident_id) == (Out.JOIN, "inc-1")


def test_alarm_of_the_same_service_within_the_window_joins() -> None:
    open_incident = incident("inc-1", last=T0, alarms={"checkout-latency": T0})
    decision = decide(event("checkout-5xx", at=T0 + WINDOW), "checkout", [open_incident], WINDOW)
    assert (decision.outcome, decision.incident_id, decision.service) == (Out.JOIN, "inc-1", "checkout")
    assert decision.fingerprint == "service:checkout"


def test_same_service_joins_the_most_recent_incident_in_the_window() -> None:
    older = incident("inc-old", last=T0 - timedelta(minutes=10), alarms={"checkout-a": T0})
    newer = incident("inc-new", last=T0 - timedelta(minutes=2), alarms={"checkout-b": T0})
    assert decide(event(), "checkout", [older, newer], WINDOW).incident_id == "inc-new"


def test_alarm_outside_the_window_opens_a_new_incident() -> None:
    open_incident = incident("inc-1", last=T0, alarms={"checkout-latency": T0})
    decision = decide(event(at=T0 + WINDOW + timedelta(seconds=1)), "checkout", [open_incident], WINDOW)
    assert (decision.outcome, decision.incident_id, decision.service) == (Out.CREATE, None, "checkout")


def test_another_services_incident_is_never_joined() -> None:
    payments = incident("inc-p", service="payments", last=T0, alarms={"payments-errors": T0})
    assert decide(event(), "checkout", [payments], WINDOW).outcome is Out.CREATE


def test_ok_recovers_the_alarm_in_its_incident() -> None:
    holder = incident("inc-1", alarms={"checkout-5xx": T0})
    decision = decide(event(state=AlarmState.OK, at=T0 + timedelta(minutes=3)), "checkout", [holder], WINDOW)
    assert (decision.outcome, decision.incident_id) == (Out.RECOVER, "inc-1")


def test_insufficient_data_is_noted_in_the_incident() -> None:
    holder = incident("inc-1", alarms={"checkout-5xx": T0})
    later = event(state=AlarmState.INSUFFICIENT_DATA, at=T0 + timedelta(minutes=1))
    assert decide(later, "checkout", [holder], WINDOW).outcome is Out.NOTE


@pytest.mark.parametrize("state", [AlarmState.OK, AlarmState.INSUFFICIENT_DATA])
def test_non_alarm_state_without_an_incident_is_only_recorded(state: AlarmState) -> None:
    same_service = incident("inc-1", alarms={"checkout-latency": T0})
    decision = decide(event(state=state), "checkout", [same_service], WINDOW)
    assert (decision.outcome, decision.incident_id) == (Out.RECORD, None)


@pytest.mark.parametrize("state", list(AlarmState))
def test_state_change_older_than_the_incident_knows_is_stale(state: AlarmState) -> None:
    holder = incident("inc-1", alarms={"checkout-5xx": T0})
    decision = decide(event(state=state, at=T0 - timedelta(seconds=1)), "checkout", [holder], WINDOW)
    assert (decision.outcome, decision.incident_id) == (Out.STALE, "inc-1")


def test_unmapped_alarms_group_per_alarm_not_together() -> None:
    first = decide(event("mystery-1"), None, [], WINDOW)
    assert (first.outcome, first.service) == (Out.CREATE, "unmapped:mystery-1")
    assert first.fingerprint == f"alarm:{arn('mystery-1')}"
    unmapped_incident = incident("inc-u", service=first.service, alarms={"mystery-1": T0})
    other = decide(event("mystery-2", at=T0 + timedelta(seconds=5)), None, [unmapped_incident], WINDOW)
    assert (other.outcome, other.service) == (Out.CREATE, "unmapped:mystery-2")
    again = decide(event("mystery-1", at=T0 + timedelta(hours=1)), None, [unmapped_incident], WINDOW)
    assert (again.outcome, again.incident_id) == (Out.JOIN, "inc-u")


# --- service_for_alarm -----------------------------------------------------------------------------------

CATALOG = [
    Service(name="checkout", ecs=EcsTarget(cluster="prod", service="checkout-svc")),
    Service(name="checkout-api", alarm_patterns=["api-gw-*"]),
    Service(name="thumbnails", **{"lambda": LambdaTarget(function="make-thumbnail")}),
    Service(name="payments"),
]


def ecs_metric(service: str, cluster: str | None = "prod") -> MetricSpec:
    dimensions = {"ServiceName": service} | ({"ClusterName": cluster} if cluster else {})
    return MetricSpec(namespace="AWS/ECS", name="CPUUtilization", dimensions=dimensions)


@pytest.mark.parametrize(
    ("alarm", "expected"),
    [
        pytest.param(event("anything", tags={"service": "payments"}), "payments", id="service tag"),
        pytest.param(event("anything", tags={"service": "unknown"}), None, id="tag not in catalog"),
        pytest.param(event("api-gw-5xx"), "checkout-api", id="name pattern"),
        pytest.param(event("cpu-high", metric=ecs_metric("checkout-svc")), "checkout", id="ECS dimensions"),
        pytest.param(event("cpu", metric=ecs_metric("checkout-svc", None)), "checkout", id="ECS no cluster"),
        pytest.param(event("cpu", metric=ecs_metric("checkout-svc", "qa")), None, id="ECS other cluster"),
        pytest.param(
            event(
                "errors",
                metrics=[
                    MetricSpec(namespace="AWS/Lambda", name="Errors", dimensions={"FunctionName": "make-thumbnail"})
                ],
            ),
            "thumbnails",
            id="Lambda dimension in metric math",
        ),
        pytest.param(event("payments-errors"), "payments", id="name prefix"),
        pytest.param(event("checkout-api-latency"), "checkout-api", id="longest prefix wins"),
        pytest.param(event("checkout-5xx"), "checkout", id="shorter prefix"),
        pytest.param(event("paymentserrors"), None, id="prefix needs the dash"),
        pytest.param(event("orphan-alarm"), None, id="no evidence"),
    ],
)
def test_service_for_alarm(alarm: AlarmEvent, expected: str | None) -> None:
    assert service_for_alarm(alarm, CATALOG) == expected


def test_tag_beats_pattern_and_pattern_beats_prefix() -> None:
    assert service_for_alarm(event("api-gw-5xx", tags={"service": "payments"}), CATALOG) == "payments"
    assert service_for_alarm(event("payments-x", metric=ecs_metric("checkout-svc")), CATALOG) == "checkout"


def test_an_alarm_on_a_resource_the_catalog_declares_belongs_to_its_service() -> None:
    worker = Service(
        name="label-printer",
        resources=[ResourceRef(type="AWS::SQS::Queue", id="print-jobs")],
    )
    web = Service(name="storefront", ecs=EcsTarget(cluster="web", service="sf", target_groups=["targetgroup/sf/1a"]))
    queue_age = MetricSpec(
        namespace="AWS/SQS", name="ApproximateAgeOfOldestMessage", dimensions={"QueueName": "print-jobs"}
    )
    target_5xx = MetricSpec(
        namespace="AWS/ApplicationELB",
        name="HTTPCode_Target_5XX_Count",
        dimensions={"TargetGroup": "targetgroup/sf/1a", "LoadBalancer": "app/web/9"},
    )
    assert service_for_alarm(event("print-jobs-oldest-message-age", metric=queue_age), [worker, web]) == "label-printer"
    assert service_for_alarm(event("edge-5xx", metric=target_5xx), [worker, web]) == "storefront"
    other = MetricSpec(namespace="AWS/SQS", name="ApproximateAgeOfOldestMessage", dimensions={"QueueName": "other"})
    assert service_for_alarm(event("other-queue-age", metric=other), [worker, web]) is None


def test_the_view_after_an_event_is_what_the_store_wrote() -> None:
    view = OpenIncidentView("inc-1", "checkout", T0, T0 + timedelta(minutes=2), {arn("a"): (AlarmState.ALARM, T0)})
    early = T0 - timedelta(minutes=1)
    joined = view_after(view, event("b", at=early), Out.JOIN)
    assert (joined.first_event_at, joined.last_event_at) == (early, T0 + timedelta(minutes=2))
    assert joined.alarm_states[arn("b")] == (AlarmState.ALARM, early)
    late = T0 + timedelta(minutes=9)
    recovered = view_after(joined, event("a", AlarmState.OK, late), Out.RECOVER)
    assert recovered.alarm_states[arn("a")] == (AlarmState.OK, late)
    assert recovered.last_event_at == T0 + timedelta(minutes=2)  # a recovery does not widen the window
    assert view_after(recovered, event("a", AlarmState.INSUFFICIENT_DATA), Out.NOTE) == recovered
    assert view.alarm_states == {arn("a"): (AlarmState.ALARM, T0)}  # the old view is untouched
