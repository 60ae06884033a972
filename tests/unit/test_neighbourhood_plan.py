"""plan(): the golden signals of each resource, and the variants ListMetrics reported under other dimensions."""

from __future__ import annotations

from oncall_agent.domain.alarm import MetricSpec
from oncall_agent.domain.neighbourhood import Resource, Via
from oncall_agent.investigation.neighbourhood.source import MAX_LISTED_VARIANTS, plan

ACL = Resource(type="AWS::WAFv2::WebACL", id="edge", role="front", owner="shop", via=[Via.WAFV2])


def waf(metric: str, acl: str, rule: str) -> MetricSpec:
    return MetricSpec(
        namespace="AWS/WAFV2", name=metric, dimensions={"WebACL": acl, "Rule": rule, "Region": "eu-west-1"}
    )


def dims(planned: list) -> list[tuple[str, str]]:
    return [(p.metric.name, p.metric.dimensions["Rule"]) for _, p in planned]


def test_a_rule_of_the_web_acl_that_list_metrics_reports_is_read_beside_the_aggregate() -> None:
    listed = [waf("BlockedRequests", "edge", "rate-limit"), waf("BlockedRequests", "other-acl", "rate-limit")]
    planned, _ = plan([ACL], "eu-west-1", "123456789012", listed)
    assert ("BlockedRequests", "ALL") in dims(planned)
    assert ("BlockedRequests", "rate-limit") in dims(planned)
    assert all(p.metric.dimensions["WebACL"] == "edge" for _, p in planned)  # another ACL's rule is not ours
    variant = next(p for _, p in planned if p.metric.dimensions["Rule"] == "rate-limit")
    assert variant.signal.kind == "blocked" and variant.metric.stat == "Sum"


def test_metrics_that_are_no_golden_signal_and_repeats_are_not_read() -> None:
    listed = [waf("CountedRequests", "edge", "rate-limit"), waf("BlockedRequests", "edge", "ALL")]
    without, _ = plan([ACL], "eu-west-1", "123456789012")
    planned, _ = plan([ACL], "eu-west-1", "123456789012", listed)
    assert dims(planned) == dims(without)


def test_variants_per_resource_are_capped() -> None:
    listed = [waf("BlockedRequests", "edge", f"rule-{i}") for i in range(MAX_LISTED_VARIANTS + 5)]
    without, _ = plan([ACL], "eu-west-1", "123456789012")
    planned, _ = plan([ACL], "eu-west-1", "123456789012", listed)
    assert len(planned) == len(without) + MAX_LISTED_VARIANTS
