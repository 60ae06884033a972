"""Evidence builders: records -> Evidence with stable ids and the details `rank` and the planner rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oncall_agent.domain.alarm import AlarmState, MetricSpec
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Category, EvidenceKind
from oncall_agent.domain.incident import Incident, IncidentStatus, Resolution
from oncall_agent.domain.records import (
    AlarmSnapshot,
    ChangeRecord,
    DeployKind,
    DeployRecord,
    LogRecord,
    LogSample,
    MetricSeries,
    TicketRecord,
)
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.context import CorrelationContext

ONSET = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
METRIC = MetricSpec(
    namespace="AWS/ApplicationELB", name="HTTPCode_Target_5XX_Count", dimensions={"TargetGroup": "tg/checkout"}
)
CATALOG = [
    Service(
        name="checkout",
        ecs={"cluster": "prod-web", "service": "checkout"},
        depends_on=["payments", "orders-db"],
        servicenow_ci="checkout-service",
        repo="acme/checkout",
    ),
    Service(name="payments", ecs={"cluster": "prod-web", "service": "payments"}, servicenow_ci="payments-service"),
    Service(name="storefront", depends_on=["checkout"]),
    Service(name="search"),
]


def context(**overrides: object) -> CorrelationContext:
    values: dict[str, object] = {
        "service": CATALOG[0],
        "catalog": CATALOG,
        "alarm_name": "checkout-alb-5xx",
        "alarm_metric": METRIC,
        "onset": ONSET,
        "window_start": ONSET - timedelta(hours=3),
        "now": ONSET + timedelta(minutes=2),
    }
    values.update(overrides)
    return CorrelationContext(**values)  # type: ignore[arg-type]


def at(minutes: float) -> datetime:
    return ONSET + timedelta(minutes=minutes)


# --- metrics -------------------------------------------------------------------------------------------------


def metric_series(values: list[float], metric: MetricSpec = METRIC) -> MetricSeries:
    start = ONSET - timedelta(minutes=len(values) - 1)
    points = [(start + timedelta(minutes=index), value) for index, value in enumerate(values)]
    return MetricSeries(metric=metric, stat="Sum", period=60, points=points)


def test_a_metric_shift_names_its_onset_levels_and_whether_it_is_the_alarm_metric() -> None:
    [item] = build.metric_evidence(metric_series([1.0, 2.0] * 60 + [40.0] * 8), context())
    assert item.kind is EvidenceKind.METRIC_SHIFT
    assert item.at == at(-7)
    assert item.details["detected"] is True and item.details["alarm_metric"] is True
    assert item.details["minutes_before_onset"] == 7
    assert item.details["before"] == pytest.approx(1.5) and item.details["after"] == 40
    assert item.entity == "AWS/ApplicationELB/HTTPCode_Target_5XX_Count{TargetGroup=tg/checkout}"


def test_a_flat_metric_says_so_and_an_empty_one_is_a_gap() -> None:
    other = MetricSpec(namespace="AWS/ECS", name="CPUUtilization")
    [flat] = build.metric_evidence(metric_series([30.0, 31.0] * 60, other), context())
    assert flat.details["detected"] is False and flat.details["alarm_metric"] is False and flat.at is None
    [empty] = build.metric_evidence(metric_series([]), context())
    assert empty.kind is EvidenceKind.GAP and empty.source == "metrics"


# --- logs ----------------------------------------------------------------------------------------------------


def sample(truncated: bool = False) -> LogSample:
    records = [
        LogRecord(at=at(-170 + m), group="/ecs/checkout", message=f"INFO GET /cart 200 {m}ms") for m in range(172)
    ]
    records += [LogRecord(at=at(-170 + m * 10), group="/ecs/checkout", message="WARN pool slow") for m in range(18)]
    records += [LogRecord(at=at(-100 + m * 20), group="/ecs/checkout", message="WARN cache miss") for m in range(4)]
    records += [LogRecord(at=at(-20 + m), group="/ecs/checkout", message="WARN cache miss") for m in range(20)]
    records += [LogRecord(at=at(-6 + m), group="/ecs/checkout", message=f"ERROR boom id={m}") for m in range(6)]
    return LogSample(records=records, truncated=truncated)


def test_log_evidence_reports_new_and_increased_signatures_and_marks_chronic_ones() -> None:
    items = build.log_evidence(sample(), context())
    status = {item.details["template"]: item.details["status"] for item in items}
    assert status == {"ERROR boom id=<NUM>": "new", "WARN cache miss": "increased", "WARN pool slow": "chronic"}
    new = items[0]
    assert new.details["template"] == "ERROR boom id=<NUM>" and new.at == at(-6)
    assert new.details["count_before"] == 0 and new.details["count_after"] == 6
    assert new.details["samples"] == ["ERROR boom id=0", "ERROR boom id=1", "ERROR boom id=2"]
    assert new.entity == "/ecs/checkout"
    assert all(item.kind is EvidenceKind.LOG_SIGNATURE for item in items)


def test_a_sample_without_baseline_calls_nothing_new_and_says_why() -> None:
    late = LogSample(records=[r for r in sample().records if r.at >= at(-20)], truncated=True)
    items = build.log_evidence(late, context())
    assert {i.details["status"] for i in items if i.kind is EvidenceKind.LOG_SIGNATURE} == {"seen"}
    assert items[-1].kind is EvidenceKind.GAP and "baseline" in items[-1].summary


def test_no_lines_is_a_gap() -> None:
    [item] = build.log_evidence(LogSample(), context())
    assert item.kind is EvidenceKind.GAP and item.source == "logs"


# --- deploys and changes -------------------------------------------------------------------------------------


def deploy(identifier: str = "checkout:118", minutes: float = -9) -> DeployRecord:
    return DeployRecord(
        kind=DeployKind.ECS,
        service="checkout",
        target="arn:aws:ecs:us-east-1:1:service/prod-web/checkout",
        identifier=identifier,
        previous="checkout:117",
        at=at(minutes),
        actor="ci",
        source_event_id="ev-1",
        details={"image": "acme/checkout:4c9e2b7"},
    )


def test_deploy_details_are_the_record_dump_plus_minutes_before_onset() -> None:
    record = deploy()
    [item] = build.deploy_evidence([record, record], context())
    assert item.details == {**record.model_dump(mode="json"), "minutes_before_onset": 9}
    assert (item.kind, item.entity, item.at, item.source) == (EvidenceKind.DEPLOY, "checkout:118", at(-9), "deploys")
    for field in ("kind", "target", "identifier", "previous", "details"):
        assert item.details[field] == record.model_dump(mode="json")[field]


def test_change_evidence_drops_read_only_events_and_is_keyed_by_event_id() -> None:
    write = ChangeRecord(
        event_id="e-1",
        at=at(-11),
        name="RevokeSecurityGroupIngress",
        source="ec2.amazonaws.com",
        resources=["sg-1"],
        parameters={"groupId": "sg-1"},
        actor="rkhan",
    )
    read = ChangeRecord(event_id="e-2", at=at(-5), name="DescribeThings", source="ec2.amazonaws.com", read_only=True)
    [item] = build.change_evidence([read, write], context())
    assert item.kind is EvidenceKind.CONFIG_CHANGE and item.entity == "e-1"
    assert item.details == {**write.model_dump(mode="json"), "minutes_before_onset": 11}


# --- alarms, tickets, memory ---------------------------------------------------------------------------------


def alarm(name: str, state: AlarmState = AlarmState.ALARM, minutes: float = -14, **tags: str) -> AlarmSnapshot:
    return AlarmSnapshot(
        name=name, arn=f"arn:aws:cloudwatch:us-east-1:1:alarm:{name}", state=state, since=at(minutes), tags=tags
    )


def test_related_alarms_are_those_in_alarm_on_the_service_its_dependencies_or_dependents() -> None:
    snapshots = [
        alarm("payments-latency-p99", service="payments"),
        alarm("orders-db-cpu-high", minutes=-30),  # a dependency outside the catalog, by name prefix
        alarm("storefront-5xx", minutes=3),
        alarm("checkout-cpu-high", minutes=-60),
        alarm("checkout-alb-5xx", minutes=0),  # the incident's own alarm
        alarm("search-latency", service="search"),  # unrelated
        alarm("payments-alb-5xx", state=AlarmState.OK, service="payments"),
    ]
    items = build.related_alarm_evidence(snapshots, context())
    relation = {item.entity: (item.details["relation"], item.details["minutes_before_onset"]) for item in items}
    assert relation == {
        "payments-latency-p99": ("upstream", 14),
        "orders-db-cpu-high": ("upstream", 30),
        "storefront-5xx": ("downstream", -3),
        "checkout-cpu-high": ("self", 60),
    }
    assert all(item.kind is EvidenceKind.RELATED_ALARM for item in items)


def test_related_alarms_map_to_services_by_dimensions_too() -> None:
    snapshot = AlarmSnapshot(
        name="cpu",
        arn="arn:cpu",
        state=AlarmState.ALARM,
        since=at(-5),
        metric=MetricSpec(namespace="AWS/ECS", name="CPUUtilization", dimensions={"ServiceName": "payments"}),
    )
    [item] = build.related_alarm_evidence([snapshot], context())
    assert item.details["service"] == "payments" and item.details["relation"] == "upstream"


def test_tickets_say_whose_ci_they_are_on_and_whether_they_were_active_at_onset() -> None:
    records = [
        TicketRecord(
            system="servicenow",
            kind="change_request",
            number="CHG1",
            title="Rotate keys",
            ci="payments-service",
            start=at(-60),
            end=at(60),
        ),
        TicketRecord(
            system="servicenow",
            kind="change_request",
            number="CHG2",
            title="Later",
            ci="checkout-service",
            start=at(360),
            end=at(420),
        ),
        TicketRecord(
            system="github", kind="issue", number="acme/checkout#7", title="Flaky", ci="acme/checkout", opened=at(-3000)
        ),
    ]
    items = {item.entity: item for item in build.ticket_evidence(records, context())}
    assert items["servicenow:CHG1"].details["relation"] == "upstream"
    assert items["servicenow:CHG1"].details["active_at_onset"] is True
    assert items["servicenow:CHG2"].details["relation"] == "self"
    assert items["servicenow:CHG2"].details["active_at_onset"] is False
    assert items["github:acme/checkout#7"].details["relation"] == "self"
    assert items["github:acme/checkout#7"].at == at(-3000)


def test_past_incidents_are_those_of_the_same_service_with_a_resolution() -> None:
    def incident(service: str, resolution: Resolution | None) -> Incident:
        return Incident(
            id=f"inc-{service}-{resolution is None}",
            fingerprint="f",
            service=service,
            status=IncidentStatus.RESOLVED,
            first_event_at=at(-5000),
            last_event_at=at(-4900),
            title="5xx",
            resolution=resolution,
        )

    resolved = Resolution(category=Category.DEPLOY, culprit="checkout:126", summary="rolled back")
    items = build.past_incident_evidence(
        [incident("checkout", resolved), incident("checkout", None), incident("payments", resolved)], context()
    )
    [item] = items
    assert item.kind is EvidenceKind.PAST_INCIDENT and item.entity == "inc-checkout-False"
    assert item.details["resolution"] == {"category": "deploy", "culprit": "checkout:126", "summary": "rolled back"}


def test_gap_names_the_source_and_the_reason() -> None:
    item = build.gap("changes", "AccessDenied: cloudtrail:LookupEvents")
    assert (item.kind, item.source, item.entity) == (EvidenceKind.GAP, "changes", "changes")
    assert item.details == {"reason": "AccessDenied: cloudtrail:LookupEvents"}


def test_the_same_records_give_the_same_ids() -> None:
    first = [e.id for e in build.deploy_evidence([deploy()], context()) + build.log_evidence(sample(), context())]
    second = [e.id for e in build.deploy_evidence([deploy()], context()) + build.log_evidence(sample(), context())]
    assert first == second and len(set(first)) == len(first)
