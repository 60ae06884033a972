"""The neighbourhood walk: catalog + what AWS reported -> resources with roles and how each was found."""

from __future__ import annotations

from oncall_agent.domain.alarm import MetricSpec
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.neighbourhood import Neighbourhood, Resource, Via
from oncall_agent.investigation.neighbourhood.walk import AwsReports, build

ACCOUNT = "210987654321"
PREFIX = f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}"
ORDERS = Service.model_validate(
    {
        "name": "orders-api",
        "ecs": {"cluster": "prod-core", "service": "orders-api", "target_groups": ["targetgroup/orders-api/9b8a7c"]},
        "resources": [{"type": "AWS::RDS::DBInstance", "id": "orders-db"}],
        "depends_on": ["payments", "ghost"],
    }
)
PAYMENTS = Service.model_validate(
    {
        "name": "payments",
        "lambda": {"function": "pay-fn"},
        "resources": [{"type": "AWS::DynamoDB::Table", "id": "payments-ledger"}],
    }
)
CATALOG = [ORDERS, PAYMENTS, Service(name="unrelated")]


def _reports() -> AwsReports:
    return AwsReports(
        target_groups={"orders-api": [f"{PREFIX}:targetgroup/orders-api-canary/11aa22"]},
        load_balancers={
            "targetgroup/orders-api/9b8a7c": [f"{PREFIX}:loadbalancer/app/prod-core/50dc6c"],
            "targetgroup/orders-api-canary/11aa22": [f"{PREFIX}:loadbalancer/app/prod-core/50dc6c"],
        },
        web_acls={"app/prod-core/50dc6c": f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/webacl/prod-core-edge/abc-1"},
        tagged={
            "orders-api": [
                f"arn:aws:sqs:eu-west-1:{ACCOUNT}:orders-events",
                f"arn:aws:rds:eu-west-1:{ACCOUNT}:db-proxy:orders-proxy",
                "arn:aws:s3:::orders-bucket",  # not a type the neighbourhood reads: ignored
            ],
            "payments": [f"arn:aws:es:eu-west-1:{ACCOUNT}:domain/payments-search"],
        },
        proxy_targets={"orders-proxy": [("AWS::RDS::DBInstance", "orders-db")]},
        metrics=[
            MetricSpec(
                namespace="AWS/ElastiCache",
                name="CurrConnections",
                dimensions={"CacheClusterId": "orders-api-cache-001"},
            ),
            MetricSpec(namespace="AWS/SQS", name="NumberOfMessagesSent", dimensions={"QueueName": "preorders-api"}),
            MetricSpec(
                namespace="AWS/ES",
                name="FreeStorageSpace",
                dimensions={"DomainName": "ghost-search", "ClientId": ACCOUNT},
            ),
            MetricSpec(
                namespace="AWS/ApplicationELB",
                name="RequestCount",
                dimensions={"TargetGroup": "targetgroup/orders-api/9b8a7c", "LoadBalancer": "app/prod-core/50dc6c"},
            ),
            MetricSpec(namespace="AWS/RDS", name="CPUUtilization", dimensions={"DBInstanceIdentifier": "unrelated-db"}),
        ],
        gaps=["wafv2 GetWebACLForResource: AccessDenied"],
    )


def _by_id(found: Neighbourhood) -> dict[str, Resource]:
    return {r.id: r for r in found.resources}


def test_path_from_ecs_to_waf_and_behind() -> None:
    found = _by_id(build(ORDERS, CATALOG, _reports()))
    assert (found["prod-core/orders-api"].role, found["prod-core/orders-api"].type) == ("self", "AWS::ECS::Service")
    declared, reported = found["targetgroup/orders-api/9b8a7c"], found["targetgroup/orders-api-canary/11aa22"]
    assert declared.role == reported.role == "front"
    assert declared.via == [Via.CATALOG, Via.LIST_METRICS] and reported.via == [Via.ECS]
    assert declared.attributes["load_balancer"] == "app/prod-core/50dc6c"
    assert (found["app/prod-core/50dc6c"].role, found["app/prod-core/50dc6c"].via) == (
        "front",
        [Via.ELBV2, Via.LIST_METRICS],
    )
    acl = found["prod-core-edge"]
    assert (acl.type, acl.role, acl.via, acl.attributes["protects"]) == (
        "AWS::WAFv2::WebACL",
        "front",
        [Via.WAFV2],
        "app/prod-core/50dc6c",
    )
    assert found["orders-db"].via == [Via.CATALOG, Via.RDS_PROXY] and found["orders-db"].role == "behind"
    assert (found["orders-proxy"].type, found["orders-proxy"].via) == ("AWS::RDS::DBProxy", [Via.TAG])
    assert (found["orders-events"].type, found["orders-events"].role) == ("AWS::SQS::Queue", "behind")


def test_dependencies_get_their_own_role() -> None:
    found = _by_id(build(ORDERS, CATALOG, _reports()))
    assert (found["pay-fn"].role, found["pay-fn"].owner) == ("dependency:payments", "payments")
    assert found["payments-ledger"].role == "dependency:payments" and found["payments-ledger"].via == [Via.CATALOG]
    assert found["payments-search"].via == [Via.TAG]
    # `ghost` is not in the catalog: still found by the name in a dimension value, with the account it reported.
    ghost = found["ghost-search"]
    assert (ghost.role, ghost.via, ghost.attributes) == ("dependency:ghost", [Via.LIST_METRICS], {"account": ACCOUNT})


def test_list_metrics_matches_names_at_separators_only() -> None:
    found = _by_id(build(ORDERS, CATALOG, _reports()))
    cache = found["orders-api-cache-001"]
    assert (cache.type, cache.role, cache.via) == ("AWS::ElastiCache::CacheCluster", "behind", [Via.LIST_METRICS])
    assert "preorders-api" not in found  # `orders-api` inside another word is not a name
    assert "unrelated-db" not in found  # a service that is neither this one nor a dependency


def test_gaps_and_nothing_reported() -> None:
    walked = build(ORDERS, CATALOG, _reports())
    assert walked.gaps == ["wafv2 GetWebACLForResource: AccessDenied"]
    bare = build(ORDERS, CATALOG, AwsReports())
    assert {(r.id, r.via[0]) for r in bare.resources} == {
        ("prod-core/orders-api", Via.CATALOG),
        ("targetgroup/orders-api/9b8a7c", Via.CATALOG),
        ("orders-db", Via.CATALOG),
        ("pay-fn", Via.CATALOG),
        ("payments-ledger", Via.CATALOG),
    }
    # A target group whose load balancer is unknown carries no `load_balancer`: its signals cannot be read.
    assert "load_balancer" not in _by_id(bare)["targetgroup/orders-api/9b8a7c"].attributes


def test_a_service_without_dependencies_or_compute() -> None:
    lone = Service(name="batch", depends_on=["batch"])
    assert build(lone, [lone], AwsReports()).resources == []


def test_a_functions_event_sources_are_in_front_and_destinations_behind() -> None:
    thumbs = Service.model_validate({"name": "thumbs", "lambda": {"function": "thumbs-fn"}, "depends_on": ["payments"]})
    reports = AwsReports(
        lambda_links={
            "thumbs": [
                ("source", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:thumbs-jobs"),
                ("destination", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:thumbs-failed"),
                ("source", f"arn:aws:kafka:eu-west-1:{ACCOUNT}:cluster/x/1"),  # not a type the walk reads
            ],
            "payments": [("source", f"arn:aws:kinesis:eu-west-1:{ACCOUNT}:stream/pay-events")],
        }
    )
    found = _by_id(build(thumbs, [thumbs, PAYMENTS], reports))
    assert (found["thumbs-fn"].role, found["thumbs-fn"].type) == ("self", "AWS::Lambda::Function")
    jobs, failed = found["thumbs-jobs"], found["thumbs-failed"]
    assert (jobs.role, jobs.via, jobs.attributes) == ("front", [Via.LAMBDA], {"link": "source"})
    assert (failed.role, failed.attributes) == ("behind", {"link": "destination"})
    assert found["pay-events"].role == "dependency:payments" and len(found) == 6
