"""The neighbourhood's part of the ranking on small hand-made worlds: the timeline, causes read off the path,
change plausibility and path order. Each rule is checked by its effect on the ranking or the confidence."""

from __future__ import annotations

import dataclasses
from typing import Any

from oncall_agent.domain.evidence import Category, Evidence, EvidenceKind, Hypothesis
from oncall_agent.domain.records import ChangeRecord
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.change_fit import alarm_hosts, effects_of
from oncall_agent.investigation.correlate.rank import rank
from oncall_agent.investigation.correlate.timeline import event_class, read_timeline
from tests.unit.test_correlate_rank import CTX, alarm, at, deploy, logs, shift_at


def neighbour(
    resource: str,
    metric: str,
    onset: float,
    *,
    role: str = "behind",
    kind: str = "saturation",
    bad: str = "up",
    direction: str = "up",
    limit_at: float | None = None,
    rise: float = 2.0,
    owner: str = "checkout",
    rtype: str = "AWS::RDS::DBInstance",
) -> Evidence:
    details: dict[str, Any] = {
        "neighbourhood": True,
        "role": role,
        "resource_type": rtype,
        "owner": owner,
        "signal_kind": kind,
        "bad_direction": bad,
        "bad": direction == bad,
        "metric": metric,
        "detected": True,
        "direction": direction,
        "onset": at(onset).isoformat(),
        "before": 100.0,
        "after": 480.0,
        "relative": 3.8,
        "rise_minutes": rise,
    }
    if limit_at is not None:
        details["crossed_limit_at"] = at(limit_at).isoformat()
    return Evidence(
        kind=EvidenceKind.METRIC_SHIFT,
        source="neighbourhood",
        at=at(onset),
        entity=resource,
        summary="",
        details=details,
    )


def event(source: str, resource: str, minutes: float, message: str, **details: Any) -> Evidence:
    return Evidence(
        kind=EvidenceKind.AWS_EVENT,
        source="events",
        at=at(minutes),
        entity=resource,
        summary=message,
        details={"feed": source, "message": message, **details},
    )


def change(name: str, source: str, minutes: float, resources: list[str], **params: Any) -> list[Evidence]:
    record = ChangeRecord(
        event_id=f"ev-{name}",
        source=source,
        name=name,
        at=at(minutes),
        actor="alice",
        resources=resources,
        parameters=params,
    )
    return build.change_evidence([record], CTX)


def top(hypotheses: list[Hypothesis]) -> Hypothesis:
    return hypotheses[0]


def find(hypotheses: list[Hypothesis], culprit: str) -> Hypothesis:
    return next(h for h in hypotheses if h.culprit == culprit)


POOL_ERRORS = (-6.0, "ERROR HikariPool-1 - Connection is not available, request timed out after 30000ms.")


# --- timeline -----------------------------------------------------------------------------------------------


def test_the_timeline_holds_bad_moves_and_events_oldest_first() -> None:
    items = [
        neighbour("orders-db", "DatabaseConnections", -10),
        neighbour("orders-db", "FreeStorageSpace", -30, bad="down", direction="up"),  # got better: no anomaly
        event("rds", "orders-db", -20, "Multi-AZ instance failover started."),
    ]
    timeline = read_timeline(items)
    assert [(a.what, a.resource) for a in timeline] == [("failover", "orders-db"), ("DatabaseConnections", "orders-db")]


def test_event_classes_follow_the_feeds_wording() -> None:
    assert event_class({"feed": "rds", "message": "Multi-AZ instance failover started."}) == "failover"
    assert event_class({"feed": "ecs_task", "stopped_reason": "OutOfMemoryError: Container killed"}) == "memory"
    assert event_class({"feed": "ecs_task", "stopped_reason": "Essential container exited", "exit_codes": [137]}) == (
        "memory"
    )
    assert event_class({"feed": "health", "status": "upcoming", "message": "maintenance"}) is None
    assert event_class({"feed": "health", "status": "open", "message": "Increased API error rates"}) == "outage"


# --- causes read off the path ---------------------------------------------------------------------------------


def test_a_database_that_reached_its_limit_first_is_the_cause() -> None:
    evidence = [
        *shift_at(5),
        *logs(POOL_ERRORS),
        neighbour("orders-db", "DatabaseConnections", -40, limit_at=-6, rise=34),
    ]
    best = top(rank(evidence, CTX))
    assert (best.category, best.culprit) == (Category.RESOURCE_EXHAUSTION, "orders-db")
    assert best.confidence >= 0.8
    assert best.features["slow_burn"] == 1.0


def test_reaching_the_limit_at_the_onset_raises_confidence() -> None:
    base = [*shift_at(5), *logs(POOL_ERRORS)]
    without = find(rank([*base, neighbour("orders-db", "DatabaseConnections", -40, rise=34)], CTX), "orders-db")
    reached = find(
        rank([*base, neighbour("orders-db", "DatabaseConnections", -40, limit_at=-6, rise=34)], CTX), "orders-db"
    )
    assert reached.confidence > without.confidence + 0.1


def test_a_resource_that_moved_only_after_our_alarm_is_a_consequence() -> None:
    evidence = [*shift_at(5), *logs(POOL_ERRORS), neighbour("orders-db", "DatabaseConnections", 8)]
    found = find(rank(evidence, CTX), "orders-db")
    assert found.features["consequence"] == 1.0
    assert found.confidence < 0.5


def test_a_dependency_table_that_throttled_before_the_dependency_failed_is_the_deeper_cause() -> None:
    evidence = [
        *shift_at(5),
        *logs((-6, "ERROR payments call failed: 503 Service Unavailable")),
        neighbour(
            "payments-fn",
            "Errors",
            -7,
            role="dependency:payments",
            kind="errors",
            owner="payments",
            rtype="AWS::Lambda::Function",
        ),
        neighbour(
            "payments-ledger",
            "WriteThrottleEvents",
            -9,
            role="dependency:payments",
            kind="saturation",
            owner="payments",
            rtype="AWS::DynamoDB::Table",
        ),
    ]
    hypotheses = rank(evidence, CTX)
    table, dependency = find(hypotheses, "payments-ledger"), find(hypotheses, "payments")
    assert table.category is Category.DEPENDENCY
    assert table.features["deeper_first"] == 1.0 and dependency.features["own_resource_first"] == 1.0
    assert table.confidence > dependency.confidence


def test_an_aws_issue_on_nothing_of_ours_names_its_event_type() -> None:
    evidence = [
        *shift_at(5),
        *logs((-6, "ERROR lookup orders-db.internal: no such host")),
        event("health", "EC2", -8, "Increased DNS resolution errors", status="open", type="AWS_EC2_OPERATIONAL_ISSUE"),
    ]
    found = find(rank(evidence, CTX), "AWS_EC2_OPERATIONAL_ISSUE")
    assert found.category is Category.INFRASTRUCTURE
    assert found.features["aws_event"] == 1.0


DNS_EVENT = "We are investigating DNS resolution failures for queries from EC2 instances. Connectivity is not affected."


def test_an_aws_event_reporting_the_class_of_our_errors_fits_them_fully() -> None:
    """DNS lookups of ours fail while AWS reports DNS resolution failing: the event says what our lines show."""
    dns = event("health", "EC2", -12, DNS_EVENT, status="open", type="AWS_EC2_OPERATIONAL_ISSUE")
    other = event("health", "EC2", -12, "Increased API error rates for RunInstances", status="open", type="X")
    lines = logs((-8, "ERROR payments lookup failed: getaddrinfo EAI_AGAIN payments.internal"))
    reported = find(rank([*shift_at(8), *lines, dns], CTX), "AWS_EC2_OPERATIONAL_ISSUE")
    unrelated = find(rank([*shift_at(8), *lines, other], CTX), "X")
    assert reported.features["errors_fit"] == 1.0 and "which AWS reports" in reported.summary
    assert unrelated.features["errors_fit"] == 0.5  # a failed call, of no class the event names
    assert reported.confidence > unrelated.confidence


def test_a_dependency_named_only_in_lookups_that_did_not_resolve_is_not_shown_unhealthy() -> None:
    """Every call fails resolving names, the dependency's alarm fires with ours: AWS's DNS issue is the cause,
    not the dependency the lines happen to name; a refused connection to it would count fully."""
    upstream = build.related_alarm_evidence([alarm("payments-5xx", "payments", -8)], CTX)
    dns = event("health", "EC2", -12, DNS_EVENT, status="open", type="AWS_EC2_OPERATIONAL_ISSUE")
    unresolved = logs((-8, "ERROR payments lookup failed: getaddrinfo EAI_AGAIN payments.internal"))
    refused = logs((-8, "ERROR payments lookup failed: connect ECONNREFUSED payments.internal"))
    hypotheses = rank([*shift_at(8), *unresolved, *upstream, dns], CTX)
    assert top(hypotheses).culprit == "AWS_EC2_OPERATIONAL_ISSUE"
    assert find(hypotheses, "payments").features["logs_mention_dependency"] == 0.5
    reached = find(rank([*shift_at(8), *refused, *upstream], CTX), "payments")
    assert reached.features["logs_mention_dependency"] == 1.0
    assert reached.confidence > find(hypotheses, "payments").confidence


def looked_at(*resources: tuple[str, str, str]) -> Evidence:
    """What the walk listed: (type, id, role) of resources of checkout."""
    listed = [{"type": t, "id": i, "role": r, "owner": "checkout"} for t, i, r in resources]
    return Evidence(
        kind=EvidenceKind.LOOKED_AT,
        source="neighbourhood",
        entity="checkout",
        summary="",
        details={"resources": listed},
    )


def test_a_failover_event_on_our_database_is_infrastructure() -> None:
    failover = event("rds", "orders-db", -7, "Multi-AZ instance failover started.")
    evidence = [*shift_at(5), *logs(POOL_ERRORS), failover]
    assert not any(h.culprit == "orders-db" for h in rank(evidence, CTX))  # a database we know nothing about
    found = find(rank([*evidence, looked_at(("AWS::RDS::DBInstance", "orders-db", "behind"))], CTX), "orders-db")
    assert found.category is Category.INFRASTRUCTURE


def test_an_rds_certificate_event_on_our_database_is_credential_expiry() -> None:
    expired = event("rds", "orders-db", -7, "The CA certificate rds-ca-2019 for this DB instance has expired.")
    evidence = [*shift_at(5), *logs((-6, "ERROR PKIX path validation failed: certificate expired")), expired]
    found = find(rank([*evidence, looked_at(("AWS::RDS::DBInstance", "orders-db", "behind"))], CTX), "orders-db")
    assert found.category is Category.CREDENTIAL_EXPIRY


# --- change plausibility ---------------------------------------------------------------------------------------


def test_a_change_that_cannot_break_requests_loses_to_the_same_timing_of_a_plausible_one() -> None:
    base = [*shift_at(5), *logs((-5, "ERROR upstream connect error or disconnect/reset before headers"))]
    retention = change("PutRetentionPolicy", "logs.amazonaws.com", -7, ["/ecs/checkout"])
    security = change("RevokeSecurityGroupIngress", "ec2.amazonaws.com", -7, ["checkout"])
    inert = rank([*base, *retention], CTX)
    plausible = rank([*base, *security], CTX)
    assert effects_of("logs.amazonaws.com", "PutRetentionPolicy") == frozenset()
    assert find(inert, "ev-PutRetentionPolicy").features["implausible_kind"] == 1.0
    assert (
        find(plausible, "ev-RevokeSecurityGroupIngress").confidence
        > find(inert, "ev-PutRetentionPolicy").confidence + 0.3
    )


def test_an_added_security_group_rule_cannot_break_requests() -> None:
    # Security group rules only allow: an added one admits more traffic and interrupts nothing; a revoked one can.
    base = [*shift_at(5), *logs((-5, "WARN write tcp 10.60.1.2:9000->10.60.3.4:51234: write: broken pipe"))]
    added = find(
        rank([*base, *change("AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", -7, ["sg-1"])], CTX),
        "ev-AuthorizeSecurityGroupIngress",
    )
    revoked = find(
        rank([*base, *change("RevokeSecurityGroupIngress", "ec2.amazonaws.com", -7, ["sg-1"])], CTX),
        "ev-RevokeSecurityGroupIngress",
    )
    assert effects_of("ec2.amazonaws.com", "AuthorizeSecurityGroupEgress") == frozenset()
    assert effects_of("rds.amazonaws.com", "AuthorizeDBSecurityGroupIngress") == frozenset()
    assert added.features["implausible_kind"] == 1.0 and added.confidence < 0.2
    assert revoked.features["implausible_kind"] == 0.0 and revoked.confidence > added.confidence + 0.3


def test_a_change_on_the_path_counts_more_than_one_off_it() -> None:
    base = [*shift_at(5), *logs((-5, "ERROR 403 Forbidden"))]
    waf = [neighbour("prod-edge", "BlockedRequests", -6, role="front", kind="blocked", rtype="AWS::WAFv2::WebACL")]
    looked = Evidence(
        kind=EvidenceKind.LOOKED_AT,
        source="neighbourhood",
        entity="checkout",
        summary="",
        details={
            "resources": [{"type": "AWS::WAFv2::WebACL", "id": "prod-edge", "role": "front", "owner": "checkout"}]
        },
    )
    on = change("UpdateWebACL", "wafv2.amazonaws.com", -8, ["arn:aws:wafv2:us-east-1:1:regional/webacl/prod-edge/x"])
    off = change("UpdateWebACL", "wafv2.amazonaws.com", -8, ["arn:aws:wafv2:us-east-1:1:regional/webacl/intranet/y"])
    on_path = rank([*base, *waf, looked, *on], CTX)[0]
    off_path = next(h for h in rank([*base, *waf, looked, *off], CTX) if h.category is Category.CONFIG_CHANGE)
    assert on_path.category is Category.CONFIG_CHANGE and on_path.features["on_path"] == 1.0
    assert off_path.features["on_path"] == 0.0
    assert on_path.confidence > off_path.confidence


def test_a_route_for_a_range_none_of_our_errors_name_is_off_the_path() -> None:
    base = [*shift_at(5), *logs((-5, "ERROR dial tcp 10.20.3.14:5432: i/o timeout"))]
    far = change("CreateRoute", "ec2.amazonaws.com", -7, ["rtb-1"], destinationCidrBlock="172.31.0.0/16")
    near = change("CreateRoute", "ec2.amazonaws.com", -7, ["rtb-1"], destinationCidrBlock="10.20.0.0/16")
    far_h = find(rank([*base, *far], CTX), "ev-CreateRoute")
    near_h = find(rank([*base, *near], CTX), "ev-CreateRoute")
    assert far_h.features["off_path"] == 1.0 and near_h.features["on_path"] == 1.0
    assert near_h.confidence > far_h.confidence


def test_a_deploy_after_the_database_went_bad_is_not_the_cause() -> None:
    base = [*shift_at(5), *logs(POOL_ERRORS), *build.deploy_evidence([deploy(minutes=-8)], CTX)]
    clean = find(rank(base, CTX), "checkout:118")
    db_first = rank([*base, neighbour("orders-db", "DatabaseConnections", -25, limit_at=-6, rise=19)], CTX)
    assert find(db_first, "checkout:118").features["path_moved_first"] == 1.0
    assert find(db_first, "checkout:118").confidence < clean.confidence - 0.2
    assert db_first[0].culprit == "orders-db"


def test_a_limit_reached_after_a_plausible_deploy_is_how_the_deploy_did_harm() -> None:
    # The deploy raised each task's pool; the database then filled up: the limit is the mechanism, the deploy the
    # cause to roll back. The limit counts only as much as the deploy is in doubt.
    base = [*shift_at(5), *logs(POOL_ERRORS), *build.deploy_evidence([deploy(minutes=-12)], CTX)]
    db = neighbour("orders-db", "DatabaseConnections", -10, limit_at=-6, rise=4)
    hypotheses = rank([*base, db], CTX)
    deployed, database = find(hypotheses, "checkout:118"), find(hypotheses, "orders-db")
    assert hypotheses[0].culprit == "checkout:118"
    assert 0.0 < database.features["limit_reached"] < 1.0
    assert database.features["limit_reached"] == round(1.0 - database.features["change_explains"], 3)
    assert deployed.confidence > database.confidence


def test_a_change_that_cannot_break_requests_explains_nothing_away() -> None:
    db = neighbour("orders-db", "DatabaseConnections", -10, limit_at=-6, rise=4)
    base = [*shift_at(5), *logs(POOL_ERRORS), db]
    retention = change("PutRetentionPolicy", "logs.amazonaws.com", -12, ["/ecs/checkout"], logGroupName="/ecs/checkout")
    alone, with_retention = find(rank(base, CTX), "orders-db"), find(rank([*base, *retention], CTX), "orders-db")
    assert "change_explains" not in with_retention.features
    assert (with_retention.confidence, with_retention.features["limit_reached"]) == (alone.confidence, 1.0)


def test_a_database_that_moved_right_after_our_deploy_does_not_count_against_it() -> None:
    base = [*shift_at(5), *logs(POOL_ERRORS), *build.deploy_evidence([deploy(minutes=-9)], CTX)]
    hypotheses = rank([*base, neighbour("orders-db", "DatabaseConnections", -7)], CTX)
    assert find(hypotheses, "checkout:118").features["path_moved_first"] == 0.0
    assert hypotheses[0].culprit == "checkout:118"


def test_events_and_shifts_without_the_walk_still_place_resources() -> None:
    assert read_timeline([neighbour("orders-db", "CPUUtilization", -3)])[0].role == "behind"


def test_a_surge_seen_only_on_the_load_balancer_is_a_traffic_surge() -> None:
    base = [*shift_at(5), *logs((-4, "ERROR upstream request timeout"))]
    surge = neighbour(
        "app/prod-web/abc",
        "RequestCount",
        -8,
        role="front",
        kind="load",
        rtype="AWS::ElasticLoadBalancingV2::LoadBalancer",
    )
    assert not any(h.category is Category.TRAFFIC_SURGE for h in rank(base, CTX))
    best = rank([*base, surge], CTX)[0]
    assert best.category is Category.TRAFFIC_SURGE


def test_a_change_that_cannot_break_requests_supersedes_nothing() -> None:
    base = [*shift_at(5), *logs((-5, "ERROR upstream connect error or disconnect/reset before headers"))]
    security = change("RevokeSecurityGroupIngress", "ec2.amazonaws.com", -9, ["checkout"])
    dashboard = change("PutDashboard", "cloudwatch.amazonaws.com", -6, ["checkout-overview"])
    found = find(rank([*base, *security, *dashboard], CTX), "ev-RevokeSecurityGroupIngress")
    assert found.features["superseded"] == 0.0
    assert found.confidence == find(rank([*base, *security], CTX), "ev-RevokeSecurityGroupIngress").confidence


def test_an_image_registry_change_fits_tasks_that_cannot_pull_their_image() -> None:
    base = [*shift_at(5), *logs((-5, "ERROR 503 Service Unavailable"))]
    lifecycle = change("PutLifecyclePolicy", "ecr.amazonaws.com", -40, ["checkout"])
    pulled = event("ecs_task", "checkout", -6, "", stopped_reason="CannotPullContainerError: manifest unknown")
    without = find(rank([*base, *lifecycle], CTX), "ev-PutLifecyclePolicy")
    fitting = find(rank([*base, *lifecycle, pulled], CTX), "ev-PutLifecyclePolicy")
    assert without.features["kind_mismatch"] == 1.0 and fitting.features["kind_fits"] == 1.0
    assert fitting.confidence > without.confidence


def test_an_aws_issue_reported_before_the_alarm_counts_against_a_deploy() -> None:
    base = [*shift_at(5), *logs(POOL_ERRORS), *build.deploy_evidence([deploy(minutes=-9)], CTX)]
    issue = event(
        "health", "EC2", -12, "Connectivity issues in use1-az4", status="open", type="AWS_EC2_OPERATIONAL_ISSUE"
    )
    alone, with_issue = find(rank(base, CTX), "checkout:118"), find(rank([*base, issue], CTX), "checkout:118")
    assert with_issue.features["aws_issue_open"] == 1.0
    assert with_issue.confidence < alone.confidence - 0.1


def test_messages_arriving_on_a_queue_the_service_consumes_are_load() -> None:
    base = [*shift_at(5), *logs((-4, "ERROR upstream request timeout"))]
    arriving = neighbour(
        "orders-events", "NumberOfMessagesSent", -9, kind="load", rtype="AWS::SQS::Queue", role="behind"
    )
    assert rank([*base, arriving], CTX)[0].category is Category.TRAFFIC_SURGE


def test_a_dependency_the_catalog_does_not_describe_is_a_resource_of_the_service() -> None:
    evidence = [
        *shift_at(5),
        *logs((-6, "ERROR OOM command not allowed when used memory > 'maxmemory'")),
        neighbour(
            "sessions-redis-001",
            "DatabaseMemoryUsagePercentage",
            -9,
            role="dependency:sessions-redis",
            owner="sessions-redis",
            rtype="AWS::ElastiCache::CacheCluster",
            limit_at=-6,
        ),
    ]
    best = rank(evidence, CTX)[0]
    assert (best.category, best.culprit) == (Category.RESOURCE_EXHAUSTION, "sessions-redis")


def test_a_certificate_aws_warned_about_fits_handshakes_failing_at_the_front_door() -> None:
    cert = "arn:aws:acm:eu-west-1:1:certificate/7c9e"
    notice = event(
        "health",
        cert,
        -30 * 24 * 60,
        "The imported certificate expires in 30 days.",
        status="open",
        type="AWS_ACM_RENEWAL_STATE_CHANGE",
        resources=[cert],
    )
    tls = neighbour(
        "app/edge/1",
        "ClientTLSNegotiationErrorCount",
        -9,
        role="front",
        kind="errors",
        rtype="AWS::ElasticLoadBalancingV2::LoadBalancer",
    )
    quiet = find(rank([*shift_at(5), notice], CTX), cert)
    failing = rank([*shift_at(5), notice, tls], CTX)
    assert quiet.category is Category.CREDENTIAL_EXPIRY and quiet.confidence < 0.5
    assert (failing[0].culprit, failing[0].category) == (cert, Category.CREDENTIAL_EXPIRY)
    assert failing[0].features["errors_fit"] == 1.0 and failing[0].confidence >= 0.5


def test_more_traffic_first_explains_a_database_running_hot() -> None:
    base = [*shift_at(5), *logs(POOL_ERRORS), neighbour("orders-db", "CPUUtilization", -8)]
    surge = neighbour(
        "app/prod-web/abc",
        "RequestCount",
        -10,
        role="front",
        kind="load",
        rtype="AWS::ElasticLoadBalancingV2::LoadBalancer",
    )
    alone, loaded = find(rank(base, CTX), "orders-db"), find(rank([*base, surge], CTX), "orders-db")
    assert loaded.features["load_explains"] == 1.0 and "load_explains" not in alone.features
    assert loaded.confidence < alone.confidence - 0.2
    assert rank([*base, surge], CTX)[0].category is Category.TRAFFIC_SURGE


def test_a_credential_failure_the_logs_cannot_name_takes_the_certificate_an_aws_event_names() -> None:
    expired = event("rds", "orders-db", -7, "The CA certificate rds-ca-2019 for this DB instance has expired.")
    logs_only = [*shift_at(5), *logs((-6, "ERROR SSL error: certificate verify failed: certificate has expired"))]
    unnamed = rank(logs_only, CTX)[0]
    assert unnamed.category is Category.CREDENTIAL_EXPIRY and unnamed.culprit is None
    named = rank([*logs_only, expired, looked_at(("AWS::RDS::DBInstance", "orders-db", "behind"))], CTX)
    credential = [h for h in named if h.category is Category.CREDENTIAL_EXPIRY]
    assert [h.culprit for h in credential] == ["orders-db"]
    assert credential[0].confidence >= unnamed.confidence


def test_a_resource_that_reached_its_limit_is_not_explained_away_by_traffic() -> None:
    surge = neighbour(
        "app/prod-web/abc",
        "RequestCount",
        -12,
        role="front",
        kind="load",
        rtype="AWS::ElasticLoadBalancingV2::LoadBalancer",
    )
    db = neighbour("orders-db", "DatabaseConnections", -8, limit_at=-6, rise=6)
    found = find(rank([*shift_at(5), *logs(POOL_ERRORS), surge, db], CTX), "orders-db")
    assert "load_explains" not in found.features and found.features["limit_reached"] == 1.0


def test_a_database_busy_at_full_cpu_after_a_surge_is_explained_by_the_surge() -> None:
    surge = neighbour(
        "app/prod-web/abc",
        "RequestCount",
        -12,
        role="front",
        kind="load",
        rtype="AWS::ElasticLoadBalancingV2::LoadBalancer",
    )
    busy = neighbour("orders-db", "CPUUtilization", -8, limit_at=-6, rise=6)
    found = find(rank([*shift_at(5), *logs(POOL_ERRORS), surge, busy], CTX), "orders-db")
    assert found.features["load_explains"] == 1.0


def _walk_with_db_in(zone: str) -> Evidence:
    walk = looked_at(("AWS::RDS::DBInstance", "orders-db", "behind"))
    walk.details["resources"][0]["attributes"] = {"availability_zone": zone}
    return walk


def test_a_zonal_aws_issue_weighs_less_when_what_is_behind_us_sits_in_other_zones() -> None:
    """AWS confines the issue to eu-west-1c; the database our calls wait on is in eu-west-1b: the zone's trouble
    is not what it shows (our own tasks may still run there, so it weighs against, it does not rule out)."""
    issue = event(
        "health",
        "EC2",
        -8,
        "Increased network latency for some instances in a single Availability Zone",
        status="open",
        type="AWS_EC2_OPERATIONAL_ISSUE",
        availability_zone="eu-west-1c",
    )
    lines = logs((-6, "ERROR POST /v1/bookings 500: canceling statement due to statement timeout"))
    other = find(rank([*shift_at(6), *lines, issue, _walk_with_db_in("eu-west-1b")], CTX), "AWS_EC2_OPERATIONAL_ISSUE")
    same = find(rank([*shift_at(6), *lines, issue, _walk_with_db_in("eu-west-1c")], CTX), "AWS_EC2_OPERATIONAL_ISSUE")
    unknown = find(rank([*shift_at(6), *lines, issue], CTX), "AWS_EC2_OPERATIONAL_ISSUE")
    assert other.features["elsewhere"] == 1.0 and "orders-db sits in eu-west-1b" in other.summary
    assert same.features["elsewhere"] == 0.0 and unknown.features["elsewhere"] == 0.0
    assert other.confidence < same.confidence == unknown.confidence
    named = logs((-6, "ERROR POST /v1/bookings 500: read timed out from eu-west-1c"))
    in_zone = find(
        rank([*shift_at(6), *named, issue, _walk_with_db_in("eu-west-1b")], CTX), "AWS_EC2_OPERATIONAL_ISSUE"
    )
    assert in_zone.features["elsewhere"] == 0.0  # our errors come from that zone


def _route53(minutes: float, record: str) -> list[Evidence]:
    batch = f"UPSERT {record}. A ALIAS brack-staging-1688249317.eu-west-2.elb.amazonaws.com (TTL 60)"
    rewrite = ChangeRecord(
        event_id=f"dns-{record}",
        source="route53.amazonaws.com",
        name="ChangeResourceRecordSets",
        at=at(minutes),
        actor="ci-deployer",
        resources=["Z0841275"],
        parameters={"changeBatch": batch},
    )
    return build.change_evidence([rewrite], CTX)


def _requests_fell(minutes: float) -> Evidence:
    fell = neighbour("app/edge-prod/1", "RequestCount", minutes, role="front", kind="load", bad="up", direction="down")
    fell.details.update(before=5180.0, after=118.0, relative=0.02)
    return fell


def test_traffic_that_stops_reaching_our_front_door_is_what_a_dns_change_to_the_host_the_alarm_checks_does() -> None:
    """The login canary of app.shop.io fails; our load balancer's requests fall from 5,180 to 118 a minute; a DNS
    change rewrote app.shop.io a minute before (another rewrote staging.shop.io). The rewrite of the checked host
    is the cause; the release of ours two minutes earlier cannot keep clients from reaching the balancer."""
    ctx = dataclasses.replace(CTX, alarm_description="synthetic login on https://app.shop.io failing")
    releases = build.deploy_evidence([deploy(minutes=-9)], ctx)
    evidence = [*shift_at(6), _requests_fell(-7), *_route53(-7, "app.shop.io"), *_route53(-7, "staging.shop.io")]
    hypotheses = rank([*evidence, *releases], ctx)
    first, other = hypotheses[0], next(h for h in hypotheses[1:] if h.category is Category.CONFIG_CHANGE)
    assert first.category is Category.CONFIG_CHANGE and first.features["on_path"] == 1.0
    assert first.features["kind_fits"] == 1.0 and "app.shop.io, which the alarm checks" in first.summary
    assert first.features["traffic_followed"] == 1.0  # the requests fell the minute it was made
    earlier = find(rank([*shift_at(6), _requests_fell(-7), *_route53(-40, "app.shop.io")], ctx), "dns-app.shop.io")
    assert earlier.features["traffic_followed"] == 0.0
    after = find(rank([*shift_at(6), _requests_fell(-7), *_route53(-5, "app.shop.io")], ctx), "dns-app.shop.io")
    assert after.features["traffic_followed"] == 0.0  # made two minutes after the requests fell
    assert other.features["on_path"] == 0.0 and other.confidence < first.confidence
    release = find(hypotheses, "checkout:118")
    assert release.features["traffic_gone"] == 1.0
    steady = find(rank([*shift_at(6), *_route53(-7, "app.shop.io"), *releases], ctx), "checkout:118")
    assert steady.features["traffic_gone"] == 0.0 and release.confidence < steady.confidence


def test_the_hosts_an_alarm_description_names() -> None:
    assert alarm_hosts("synthetic login on https://app.shop.io/login failing") == {"app.shop.io"}
    assert alarm_hosts("p99 of api.eu.shop.io over 2 s") == {"api.eu.shop.io"}
    assert alarm_hosts("see runbook.md, e.g. restart") == set() and alarm_hosts("") == set()
