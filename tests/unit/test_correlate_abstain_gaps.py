"""Capabilities that turned abstentions into answers: a change whose own effect AWS reports on what it touched
(`effect_seen`), a resource that slid to its hard limit and sits there when the errors start (`path_causes`),
a step after a short recorded baseline and a free-space floor that is never quite 0 (`neighbourhood.evidence`),
and a client error that tells to check the credentials (symptom classes)."""

from __future__ import annotations

from datetime import timedelta

from oncall_agent.domain.evidence import Category
from oncall_agent.investigation.correlate import taxonomy
from oncall_agent.investigation.correlate.effect_seen import touched
from oncall_agent.investigation.correlate.rank import rank
from oncall_agent.investigation.neighbourhood.evidence import series_evidence
from tests.unit.test_correlate_path import change, event, find, neighbour
from tests.unit.test_correlate_rank import CTX, logs, shift_at
from tests.unit.test_neighbourhood_evidence import CTX as NB_CTX
from tests.unit.test_neighbourhood_evidence import _planned, _resource, _series

PULL = "CannotPullContainerError: failed to resolve ref 1234.dkr.ecr.eu-west-1.amazonaws.com/{repo}:2026.11: not found"


def test_a_change_whose_effect_aws_reports_on_what_it_touched_is_named() -> None:
    base = [*shift_at(5), *logs((-5, "ERROR 503 Service Unavailable"))]
    lifecycle = change("PutLifecyclePolicy", "ecr.amazonaws.com", -50, ["checkout-web"], repositoryName="checkout-web")
    ours = event("ecs_task", "checkout", -6, "", stopped_reason=PULL.format(repo="checkout-web"))
    other = event("ecs_task", "checkout", -6, "", stopped_reason=PULL.format(repo="billing-web"))
    named = find(rank([*base, *lifecycle, ours], CTX), "ev-PutLifecyclePolicy")
    unnamed = find(rank([*base, *lifecycle, other], CTX), "ev-PutLifecyclePolicy")
    assert named.features["effect_named"] == 1.0 and unnamed.features["effect_named"] == 0.0
    assert named.confidence >= 0.5 > unnamed.confidence
    assert rank([*base, *lifecycle, ours], CTX)[0].culprit == "ev-PutLifecyclePolicy"


def test_a_change_of_a_kind_that_cannot_stop_a_pull_is_not_named_by_it() -> None:
    base = [*shift_at(5), *logs((-5, "ERROR 503 Service Unavailable"))]
    waf = change("UpdateWebACL", "wafv2.amazonaws.com", -20, ["checkout-web"])
    pulled = event("ecs_task", "checkout", -6, "", stopped_reason=PULL.format(repo="checkout-web"))
    assert find(rank([*base, *waf, pulled], CTX), "ev-UpdateWebACL").features["effect_named"] == 0.0


def test_touched_names_resources_and_naming_parameters_only() -> None:
    details = {
        "resources": ["arn:aws:secretsmanager:eu-west-1:1:secret:prod/db"],
        "parameters": {"secretId": "prod/db", "countNumber": "7", "lifecyclePolicyText": "{...}"},
    }
    assert touched(details) == {"arn:aws:secretsmanager:eu-west-1:1:secret:prod/db", "prod/db"}


def test_a_resource_at_its_limit_after_a_slow_slide_is_the_cause_when_the_errors_start() -> None:
    base = [*shift_at(5), *logs((-5, "ERROR Mysql2::Error: The table '/rdsdbdata/tmp/#sql1a2b' is full"))]
    storage = neighbour("orders-db", "FreeLocalStorage", -180, bad="down", direction="down", limit_at=-80, rise=100)
    storage.details["at_limit_now"] = True
    found = find(rank([*base, storage], CTX), "orders-db")
    assert found.category is Category.RESOURCE_EXHAUSTION and found.features["limit_reached"] == 1.0
    assert found.features["slow_burn"] == 1.0 and found.confidence >= 0.5
    recovered = neighbour("orders-db", "FreeLocalStorage", -180, bad="down", direction="down", limit_at=-80, rise=100)
    assert find(rank([*base, recovered], CTX), "orders-db").features.get("limit_reached", 0.0) == 0.0


def test_a_free_space_floor_counts_as_reached_near_zero_and_a_slide_is_a_slow_burn() -> None:
    db = _resource("AWS::RDS::DBInstance", "orders-db", "behind")
    planned = _planned(db, "FreeLocalStorage")
    values = [4.9e9 - i * 8.0e7 for i in range(61)] + [1.0e5] * 10
    item = series_evidence(db, planned, _series(planned, values), NB_CTX)
    assert item is not None and item.details["crossed_limit_at"] is not None
    assert item.details["at_limit_now"] is True and item.details["rise_minutes"] >= 30


def test_a_step_after_a_short_recorded_baseline_is_found() -> None:
    queue = _resource("AWS::SQS::Queue", "intake", "behind")
    planned = _planned(queue, "NumberOfMessagesSent")
    values = [310.0, 295.0, 322.0, 301.0, 318.0] + [4000.0 + (i % 7) * 20 for i in range(41)]
    item = series_evidence(queue, planned, _series(planned, values), NB_CTX)
    assert item is not None and item.details["detected"] and item.details["direction"] == "up"
    assert item.details["onset"] == (NB_CTX.now - timedelta(minutes=41)).isoformat()
    noisy = [310.0, 310.0, 310.0, 310.0, 310.0] + [330.0 + (i % 7) * 5 for i in range(41)]
    assert series_evidence(queue, planned, _series(planned, noisy), NB_CTX) is None


def test_a_client_told_to_check_the_credentials_reports_an_authentication_failure() -> None:
    line = "FATAL:  failed to connect to the database through the proxy. Check that the credentials for it are correct."
    assert next(c.name for c in taxonomy.matching(line)) == "authentication_failed"
    assert all(c.family != "credential" for c in taxonomy.matching("check that the port is correct"))
