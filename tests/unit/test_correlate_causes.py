"""Causes without a change of ours - traffic surge, resource exhaustion, credential expiry, infrastructure - on
small hand-made worlds: the decisive evidence of each, and the counter-evidence that keeps each from being blamed
for what a change (or another cause) explains better."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from oncall_agent.domain.alarm import AlarmState, MetricSpec
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Category, Evidence, EvidenceKind, Hypothesis
from oncall_agent.domain.records import (
    AlarmSnapshot,
    ChangeRecord,
    DeployKind,
    DeployRecord,
    LogRecord,
    LogSample,
    MetricSeries,
)
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.changepoint import detect_shift, rise_minutes
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.correlate.rank import rank

ONSET = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
DIMS = {"LoadBalancer": "app/prod-web/6f1c", "TargetGroup": "targetgroup/checkout-tg/9b1d"}
METRIC = MetricSpec(namespace="AWS/ApplicationELB", name="HTTPCode_Target_5XX_Count", dimensions=DIMS)
CHECKOUT = Service(
    name="checkout",
    ecs={"cluster": "prod-web", "service": "checkout"},
    depends_on=["payments", "orders-db"],
    servicenow_ci="checkout-service",
)
CATALOG = [
    CHECKOUT,
    Service(name="payments", ecs={"cluster": "prod-web", "service": "payments"}),
    Service(name="search"),
]


def context(metric: MetricSpec = METRIC) -> CorrelationContext:
    return CorrelationContext(CHECKOUT, CATALOG, "checkout-5xx", metric, ONSET, ONSET - timedelta(hours=3), ONSET)


CTX = context()


def at(minutes: float) -> datetime:
    return ONSET + timedelta(minutes=minutes)


def series(
    level: list[tuple[float, float]], metric: MetricSpec = METRIC, ctx: CorrelationContext = CTX
) -> list[Evidence]:
    """A per-minute series over three hours: `level` holds (from minute, value) steps; a value given as a
    (start, end) ramp is not needed here - ramps are built by listing steps."""
    points = []
    for minute in range(-180, 1):
        value = next((v for start, v in sorted(level, reverse=True) if minute >= start), 0.0)
        points.append((at(minute), value + (0.3 if minute % 2 else -0.3)))
    return build.metric_evidence(MetricSeries(metric=metric, stat="Sum", period=60, points=points), ctx)


def five_xx_from(minute: int) -> list[Evidence]:
    return series([(-180, 1.0), (minute, 40.0)])


def logs(
    routine_per_minute: list[tuple[float, int]], *lines: tuple[float, str], ctx: CorrelationContext = CTX
) -> list[Evidence]:
    """Routine request lines at the given rates (from minute, lines a minute), a chronic warning, and `lines`
    (start minute, message) once a minute from their start."""
    records = []
    for minute in range(-180, 0):
        rate = next((r for start, r in sorted(routine_per_minute, reverse=True) if minute >= start), 0)
        records += [
            LogRecord(
                at=at(minute) + timedelta(seconds=60 * i / rate), group="/ecs/checkout", message=f"INFO GET /cart {i}"
            )
            for i in range(rate)
        ]
    records += [LogRecord(at=at(m), group="/ecs/checkout", message="WARN pool slow") for m in range(-180, 0, 15)]
    for start, message in lines:
        records += [LogRecord(at=at(m), group="/ecs/checkout", message=message) for m in range(math.ceil(start), 0)]
    return build.log_evidence(LogSample(records=records), ctx)


def alarm(name: str, minutes: float, metric: MetricSpec, service: str | None = None) -> AlarmSnapshot:
    tags = {"service": service} if service else {}
    return AlarmSnapshot(
        name=name, arn=f"arn:{name}", state=AlarmState.ALARM, since=at(minutes), metric=metric, tags=tags
    )


def change(
    event_id: str, minutes: float, name: str, source: str, resource: str, actor: str = "ops", **params: object
) -> ChangeRecord:
    return ChangeRecord(
        event_id=event_id,
        at=at(minutes),
        name=name,
        source=source,
        actor=actor,
        resources=[resource],
        parameters=params,
    )


def deploy(minutes: float) -> DeployRecord:
    return DeployRecord(
        kind=DeployKind.ECS,
        service="checkout",
        target="arn:aws:ecs:us-east-1:1:service/prod-web/checkout",
        identifier="checkout:118",
        previous="checkout:117",
        at=at(minutes),
    )


def ranked(*groups: list[Evidence], ctx: CorrelationContext = CTX) -> list[Hypothesis]:
    return rank([item for group in groups for item in group], ctx)


def find(hypotheses: list[Hypothesis], category: Category, culprit: str | None = None) -> Hypothesis:
    return next(h for h in hypotheses if h.category is category and (culprit is None or h.culprit == culprit))


STEADY = [(-180, 20)]
DOUBLED = [(-180, 20), (-14, 45)]

# --- signals -----------------------------------------------------------------------------------------------------


def test_rise_minutes_tells_a_step_from_a_ramp() -> None:
    step = [(at(m), 1.0 if m < -20 else 40.0) for m in range(-180, 1)]
    ramp = [(at(m), 1.0 if m < -60 else 1.0 + (m + 60) * 0.65) for m in range(-180, 1)]
    step_shift, ramp_shift = detect_shift(step), detect_shift(ramp)
    assert step_shift is not None and ramp_shift is not None
    assert rise_minutes(step, step_shift) <= 1
    assert rise_minutes(ramp, ramp_shift) >= 45


def test_the_routine_log_rate_is_derived_from_the_logs_when_it_shifts() -> None:
    items = logs(DOUBLED)
    [rate] = [e for e in items if e.kind is EvidenceKind.METRIC_SHIFT]
    assert rate.source == "logs" and rate.details["derived"] == "logs" and rate.details["alarm_metric"] is False
    assert rate.details["direction"] == "up" and rate.details["ratio"] == pytest.approx(2.25, abs=0.15)
    assert -16 <= (rate.at - ONSET).total_seconds() / 60 <= -13
    assert not [e for e in logs(STEADY) if e.kind is EvidenceKind.METRIC_SHIFT]


def test_new_kinds_of_lines_are_not_load() -> None:
    """A new version that logs every request twice is a change, not more traffic."""
    items = logs(STEADY, *[(-14, f"INFO cache warmup step {i}") for i in range(25)])
    assert not [e for e in items if e.kind is EvidenceKind.METRIC_SHIFT]


# --- traffic surge -----------------------------------------------------------------------------------------------


def test_more_of_the_same_requests_before_the_errors_is_a_traffic_surge() -> None:
    hypotheses = ranked(five_xx_from(-10), logs(DOUBLED, (-9, "ERROR GET /cart 503 queue full")))
    top = hypotheses[0]
    assert top.category is Category.TRAFFIC_SURGE and top.culprit is None
    assert top.confidence >= 0.7
    assert top.features["load_up"] == 1.0 and top.features["load_leads"] == 1.0 and top.features["strained"] == 1.0
    assert "the load rose 2.2 times" in top.summary


def test_a_deploy_into_a_surge_is_not_blamed_and_the_surge_wins_when_the_deploy_is_not_right_before() -> None:
    def hypotheses(deploy_at: float, routine: list[tuple[float, int]]) -> list[Hypothesis]:
        return ranked(
            build.deploy_evidence([deploy(deploy_at)], CTX), five_xx_from(-10), logs(routine, (-9, "ERROR boom"))
        )

    surge, calm = hypotheses(-12, DOUBLED), hypotheses(-12, STEADY)
    blamed, alone = find(surge, Category.DEPLOY), find(calm, Category.DEPLOY)
    assert blamed.features["load_surge"] == 1.0 and blamed.confidence < 0.5 <= alone.confidence
    # Deployed two minutes into the surge and two before the errors: either could be it - abstain.
    assert surge[0].category is Category.UNKNOWN
    # Deployed twenty minutes earlier: the surge it is.
    earlier = hypotheses(-30, DOUBLED)
    assert earlier[0].category is Category.TRAFFIC_SURGE and earlier[0].confidence >= 0.7


def test_a_load_that_rose_after_the_errors_is_not_the_cause() -> None:
    hypotheses = ranked(five_xx_from(-40), logs([(-180, 20), (-14, 45)], (-39, "ERROR boom")))
    surge = find(hypotheses, Category.TRAFFIC_SURGE)
    assert surge.features["load_up"] == 0.0 and surge.confidence < 0.5


def test_an_autoscaling_scale_out_is_a_reaction_not_a_cause() -> None:
    scale_out = change(
        "asg",
        -9,
        "UpdateService",
        "ecs.amazonaws.com",
        "checkout",
        actor="AWSServiceRoleForApplicationAutoScaling_ECSService",
        cluster="prod-web",
        service="checkout",
        desiredCount=9,
    )
    hypotheses = ranked(build.change_evidence([scale_out], CTX), five_xx_from(-8), logs(STEADY, (-8, "ERROR boom")))
    config = find(hypotheses, Category.CONFIG_CHANGE, "asg")
    assert config.features["autoscaling"] == 1.0 and config.confidence < 0.5


# --- resource exhaustion ----------------------------------------------------------------------------------------

MEMORY = MetricSpec(
    namespace="AWS/ECS", name="MemoryUtilization", dimensions={"ClusterName": "prod-web", "ServiceName": "checkout"}
)
CONNECTIONS = MetricSpec(
    namespace="AWS/RDS", name="DatabaseConnections", dimensions={"DBInstanceIdentifier": "orders-db"}
)
OOM = "ERROR java.lang.OutOfMemoryError: Java heap space at c.a.Cache.put(Cache.java:58)"
ORDERS_DB = "orders-db.c9xk2l4m8n0p.us-east-1.rds.amazonaws.com:5432"
TOO_MANY = f"ERROR PSQLException: FATAL: sorry, too many clients already ({ORDERS_DB})"


def test_oom_kills_after_the_memory_alarm_are_exhaustion_of_the_service_itself() -> None:
    alarms = build.related_alarm_evidence([alarm("checkout-memory-high", -35, MEMORY, "checkout")], CTX)
    hypotheses = ranked(alarms, five_xx_from(-10), logs(STEADY, (-11, OOM)))
    top = hypotheses[0]
    assert (top.category, top.culprit) == (Category.RESOURCE_EXHAUSTION, "checkout")
    assert top.features["saturated"] == 1.0 and top.features["exhaustion_logs"] == 1.0
    assert top.features["gradual"] == 1.0 and top.confidence >= 0.9
    alone = find(ranked(five_xx_from(-10), logs(STEADY, (-11, OOM))), Category.RESOURCE_EXHAUSTION)
    assert 0.5 <= alone.confidence < top.confidence


def test_an_open_files_alarm_on_the_task_family_and_too_many_open_files_are_the_service_itself() -> None:
    fds = MetricSpec(
        namespace="ECS/ContainerInsights/Prometheus",
        name="process_open_fds",
        dimensions={"ClusterName": "prod-web", "TaskDefinitionFamily": "checkout"},
    )
    accept = "ERROR http: Accept error: accept tcp [::]:8080: accept4: too many open files; retrying in 1s"
    alarms = build.related_alarm_evidence([alarm("checkout-open-fds-high", -20, fds, "checkout")], CTX)
    hypotheses = ranked(alarms, five_xx_from(-10), logs(STEADY, (-12, accept)))
    top = hypotheses[0]
    assert (top.category, top.culprit) == (Category.RESOURCE_EXHAUSTION, "checkout")  # not the cluster
    assert top.features["saturated"] == 1.0 and top.features["exhaustion_logs"] == 1.0
    assert [h.culprit for h in hypotheses if h.category is Category.RESOURCE_EXHAUSTION] == ["checkout"]


def test_lines_that_name_a_database_endpoint_are_about_that_database() -> None:
    alarms = build.related_alarm_evidence([alarm("orders-db-connections", -25, CONNECTIONS)], CTX)
    hypotheses = ranked(alarms, five_xx_from(-10), logs(STEADY, (-11, TOO_MANY)))
    top = hypotheses[0]
    assert (top.category, top.culprit) == (Category.RESOURCE_EXHAUSTION, "orders-db")
    assert not [
        h for h in hypotheses if h.category is Category.DEPENDENCY
    ]  # a saturated resource, not a failed service


def test_a_node_metric_and_the_cluster_endpoint_are_one_resource() -> None:
    cache = MetricSpec(
        namespace="AWS/ElastiCache", name="DatabaseMemoryUsagePercentage", dimensions={"CacheClusterId": "sessions-001"}
    )
    service = Service(name="checkout", ecs={"cluster": "prod-web", "service": "checkout"}, depends_on=["sessions"])
    ctx = CorrelationContext(service, [service], "checkout-5xx", METRIC, ONSET, ONSET - timedelta(hours=3), ONSET)
    line = (
        "ERROR OOM command not allowed when used memory > 'maxmemory'. "
        "(sessions.x8y7z6.ng.0001.use1.cache.amazonaws.com:6379)"
    )
    items = [
        *build.related_alarm_evidence([alarm("sessions-memory-high", -20, cache)], ctx),
        *series([(-180, 1.0), (-10, 40.0)], ctx=ctx),
        *logs(STEADY, (-10, line), ctx=ctx),
    ]
    exhausted = [h for h in rank(items, ctx) if h.category is Category.RESOURCE_EXHAUSTION]
    assert [h.culprit for h in exhausted] == ["sessions"] and exhausted[0].confidence >= 0.8


def test_the_alarms_own_cpu_step_alone_is_not_an_explanation() -> None:
    cpu = MetricSpec(
        namespace="AWS/ECS", name="CPUUtilization", dimensions={"ClusterName": "prod-web", "ServiceName": "checkout"}
    )
    ctx = context(cpu)
    hypotheses = rank([*series([(-180, 35.0), (-12, 93.0)], cpu, ctx), *logs(STEADY, ctx=ctx)], ctx)
    assert hypotheses[0].category is Category.UNKNOWN
    exhausted = find(hypotheses, Category.RESOURCE_EXHAUSTION, "checkout")
    assert exhausted.features["saturated"] == pytest.approx(0.35) and exhausted.confidence < 0.5


def test_a_saturated_resource_under_a_surge_is_the_surge() -> None:
    alarms = build.related_alarm_evidence([alarm("orders-db-connections", -8, CONNECTIONS)], CTX)
    hypotheses = ranked(alarms, five_xx_from(-10), logs(DOUBLED, (-9, TOO_MANY)))
    assert hypotheses[0].category is Category.TRAFFIC_SURGE
    assert find(hypotheses, Category.RESOURCE_EXHAUSTION, "orders-db").features["load_up"] == 1.0


# --- credentials ---------------------------------------------------------------------------------------------

AUTH = 'ERROR PSQLException: FATAL: password authentication failed for user "checkout_app"'
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:1:secret:prod/checkout/db-AbCdEf"


def rotation(minutes: float) -> ChangeRecord:
    return change(
        "rot", minutes, "RotateSecret", "secretsmanager.amazonaws.com", SECRET_ARN, secretId="prod/checkout/db"
    )


def test_authentication_failures_after_a_rotation_blame_the_rotated_secret() -> None:
    hypotheses = ranked(build.change_evidence([rotation(-25)], CTX), five_xx_from(-12), logs(STEADY, (-14, AUTH)))
    top = hypotheses[0]
    assert (top.category, top.culprit) == (Category.CREDENTIAL_EXPIRY, "prod/checkout/db")
    assert top.features["credential_errors_after"] > 0.6 and top.features["on_service"] == 1.0
    assert top.confidence >= 0.7
    assert not [h for h in hypotheses if h.category is Category.CONFIG_CHANGE]  # a rotation is not a config change


def test_a_rotation_without_credential_failures_is_not_blamed() -> None:
    hypotheses = ranked(
        build.change_evidence([rotation(-25)], CTX), five_xx_from(-12), logs(STEADY, (-14, "ERROR boom"))
    )
    rotated = find(hypotheses, Category.CREDENTIAL_EXPIRY, "prod/checkout/db")
    assert rotated.features["no_credential_errors"] == 1.0 and rotated.confidence < 0.5


def test_an_expired_certificate_with_its_expiry_alarm_names_the_certificate() -> None:
    certificate = "arn:aws:acm:us-east-1:1:certificate/7f3e2d1c"
    expiry = MetricSpec(
        namespace="AWS/CertificateManager", name="DaysToExpiry", dimensions={"CertificateArn": certificate}
    )
    alarms = build.related_alarm_evidence([alarm("checkout-cert-expiry", -14 * 1440, expiry, "checkout")], CTX)
    line = "ERROR POST https://api.partner.example.com failed: SSLHandshakeException: Received fatal alert: " + (
        "certificate_expired"
    )
    hypotheses = ranked(alarms, five_xx_from(-7), logs(STEADY, (-7, line)))
    top = hypotheses[0]
    assert (top.category, top.culprit) == (Category.CREDENTIAL_EXPIRY, certificate)
    assert top.features["abrupt"] == 1.0 and top.features["certificate_alarm"] == 1.0 and top.confidence >= 0.8


def _expiry_metric(certificate: str) -> MetricSpec:
    return MetricSpec(
        namespace="AWS/CertificateManager", name="DaysToExpiry", dimensions={"CertificateArn": certificate}
    )


X509_EXPIRED = (
    'ERROR Post "https://payments.internal.example:8443/v1/charges": tls: failed to verify certificate: '
    "x509: certificate has expired or is not yet valid"
)


def test_the_expired_server_certificate_of_a_dependency_is_named_by_its_expiry_alarm() -> None:
    server = "arn:aws:acm:us-east-1:1:certificate/2b8c4d1e"
    snapshots = [alarm("payments-tls-cert-expiry", -12 * 1440, _expiry_metric(server), "payments")]
    hypotheses = ranked(
        build.related_alarm_evidence(snapshots, CTX), five_xx_from(-6), logs(STEADY, (-6, X509_EXPIRED))
    )
    top = hypotheses[0]
    assert (top.category, top.culprit) == (Category.CREDENTIAL_EXPIRY, server)
    assert top.features["certificate_alarm"] == 1.0 and top.confidence >= 0.8
    # The dependency is not blamed for an alarm that has been on for twelve days.
    assert find(hypotheses, Category.DEPENDENCY, "payments").confidence < 0.5


def test_our_own_certificate_alarm_names_the_culprit_before_a_dependency_s() -> None:
    ours, theirs = "arn:aws:acm:us-east-1:1:certificate/0a0a0a0a", "arn:aws:acm:us-east-1:1:certificate/0b0b0b0b"
    snapshots = [
        alarm("payments-tls-cert-expiry", -20 * 1440, _expiry_metric(theirs), "payments"),
        alarm("checkout-client-cert-expiry", -3 * 1440, _expiry_metric(ours), "checkout"),
    ]
    hypotheses = ranked(
        build.related_alarm_evidence(snapshots, CTX), five_xx_from(-6), logs(STEADY, (-6, X509_EXPIRED))
    )
    assert find(hypotheses, Category.CREDENTIAL_EXPIRY).culprit == ours


def test_an_unrelated_service_s_certificate_alarm_names_nothing() -> None:
    snapshots = [
        alarm("search-tls-cert-expiry", -12 * 1440, _expiry_metric("arn:aws:acm:us-east-1:1:certificate/c"), "search")
    ]
    hypotheses = ranked(
        build.related_alarm_evidence(snapshots, CTX), five_xx_from(-6), logs(STEADY, (-6, X509_EXPIRED))
    )
    expiry = find(hypotheses, Category.CREDENTIAL_EXPIRY)
    assert not expiry.culprit and expiry.features["certificate_alarm"] == 0.0


def test_expired_errors_count_against_a_deploy() -> None:
    line = "ERROR token exchange failed: invalid_client: the provided client secret keys for app 'x' are expired"
    hypotheses = ranked(build.deploy_evidence([deploy(-20)], CTX), five_xx_from(-6), logs(STEADY, (-6, line)))
    assert hypotheses[0].category is Category.CREDENTIAL_EXPIRY
    assert find(hypotheses, Category.DEPLOY).features["expired_credentials"] == 1.0


def test_access_denied_right_after_a_role_policy_change_is_the_config_change() -> None:
    detach = change(
        "detach",
        -12,
        "DetachRolePolicy",
        "iam.amazonaws.com",
        "checkout-task",
        roleName="checkout-task",
        policyArn="arn:aws:iam::1:policy/s3-read",
    )
    denied = (
        "ERROR GetObject failed: AccessDenied: User: arn:aws:sts::1:assumed-role/checkout-task/abc is not authorized"
    )
    evidence = (build.change_evidence([detach, rotation(-35)], CTX), five_xx_from(-11), logs(STEADY, (-11, denied)))
    hypotheses = ranked(*evidence)
    assert (hypotheses[0].category, hypotheses[0].culprit) == (Category.CONFIG_CHANGE, "detach")
    assert find(hypotheses, Category.CREDENTIAL_EXPIRY, "prod/checkout/db").confidence < 0.5


# --- infrastructure ----------------------------------------------------------------------------------------

UNHEALTHY_1B = MetricSpec(
    namespace="AWS/ApplicationELB", name="UnHealthyHostCount", dimensions={**DIMS, "AvailabilityZone": "us-east-1b"}
)


def test_an_untagged_alarm_on_our_load_balancer_and_target_group_is_related_but_not_one_on_another() -> None:
    ours = alarm("prod-web-checkout-unhealthy-1b", -6, UNHEALTHY_1B)
    other_tg = alarm(
        "prod-web-payments-unhealthy-1b",
        -6,
        UNHEALTHY_1B.model_copy(
            update={"dimensions": {**UNHEALTHY_1B.dimensions, "TargetGroup": "targetgroup/payments-tg/1c2d"}}
        ),
    )
    items = build.related_alarm_evidence([ours, other_tg], CTX)
    assert [(e.entity, e.details["relation"]) for e in items] == [("prod-web-checkout-unhealthy-1b", "resource")]


def test_a_zone_health_alarm_and_errors_from_that_zone_are_an_infrastructure_failure() -> None:
    alarms = build.related_alarm_evidence([alarm("prod-web-checkout-unhealthy-1b", -6, UNHEALTHY_1B)], CTX)
    errors = (-9, "ERROR az=us-east-1b task=2b4d redis: i/o timeout after 5000ms")
    hypotheses = ranked(alarms, five_xx_from(-9), logs(STEADY, errors))
    top = hypotheses[0]
    assert (top.category, top.culprit) == (Category.INFRASTRUCTURE, "us-east-1b")
    assert top.features["infra_alarm"] == 1.0 and top.features["zonal_errors"] == 1.0 and top.confidence >= 0.8


def test_a_zone_alarm_makes_a_dependency_that_alarmed_later_a_fellow_victim() -> None:
    snapshots = [
        alarm("prod-web-checkout-unhealthy-1b", -8, UNHEALTHY_1B),
        AlarmSnapshot(
            name="payments-5xx", arn="arn:p", state=AlarmState.ALARM, since=at(-6), tags={"service": "payments"}
        ),
    ]
    errors = (-9, "ERROR payments call failed: connect timeout to 10.20.1.7:8080 (us-east-1b)")
    hypotheses = ranked(build.related_alarm_evidence(snapshots, CTX), five_xx_from(-9), logs(STEADY, errors))
    assert (hypotheses[0].category, hypotheses[0].culprit) == (Category.INFRASTRUCTURE, "us-east-1b")
    assert find(hypotheses, Category.DEPENDENCY, "payments").features["infra_alarm_first"] == 1.0


def test_a_deploy_right_before_the_zone_errors_keeps_the_infrastructure_hypothesis_down() -> None:
    errors = (-8, "ERROR az=us-east-1b boom")
    alarms = build.related_alarm_evidence([alarm("prod-web-checkout-unhealthy-1b", -6, UNHEALTHY_1B)], CTX)
    with_deploy = ranked(build.deploy_evidence([deploy(-10)], CTX), alarms, five_xx_from(-8), logs(STEADY, errors))
    without = ranked(alarms, five_xx_from(-8), logs(STEADY, errors))
    infra_with, infra_without = (find(h, Category.INFRASTRUCTURE) for h in (with_deploy, without))
    assert infra_with.features["change_explains"] > 0.5
    assert infra_with.confidence < infra_without.confidence
