"""A release of ours that multiplied what we send to a dependency (`correlate/driven.py`), and the credential
holder of a sub-resource a failure names (`causes.credential_holder`), on small hand-made worlds."""

from __future__ import annotations

from typing import Any

from oncall_agent.domain.evidence import Category, Evidence
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.causes import credential_holder
from oncall_agent.investigation.correlate.rank import rank
from tests.unit.test_correlate_path import find, neighbour
from tests.unit.test_correlate_rank import CTX, alarm, deploy, logs, shift_at

THROTTLED = (-20, "ERROR PaymentsClient POST /authorize failed: 429 Too Many Requests (throttled)")


def _load(resource: str, onset: float, *, role: str, before: float, after: float, owner: str = "payments") -> Evidence:
    item = neighbour(
        resource, "RequestCount", onset, role=role, kind="load", owner=owner, rtype="AWS::ApiGateway::RestApi"
    )
    details: dict[str, Any] = {**item.details, "before": before, "after": after, "relative": after / before}
    return item.model_copy(update={"details": details})


def _world(dependency_step: float, *, front_step: float | None = 40.0, ratio: float = 50.0) -> list[Evidence]:
    """Our release 150 min before the alarm; the payments API's requests step at `dependency_step`; our front
    door's requests rise (the morning) at `front_step`; payments alarms 30 min before ours."""
    items = [
        *shift_at(5),
        *logs(THROTTLED),
        *build.deploy_evidence([deploy(minutes=-150)], CTX),
        *build.related_alarm_evidence([alarm("payments-throttled", "payments", -30)], CTX),
        _load("payments-api", dependency_step, role="dependency:payments", before=100.0, after=100.0 * ratio),
    ]
    if front_step is not None:
        items.append(_load("app/front/1", front_step, role="front", before=1000.0, after=3000.0, owner="checkout"))
    return items


def test_a_release_after_which_a_dependency_received_many_times_more_is_the_cause_of_its_trouble() -> None:
    hypotheses = rank(_world(-150), CTX)
    release, payments = find(hypotheses, "checkout:118"), find(hypotheses, "payments")
    assert hypotheses[0].culprit == "checkout:118" and hypotheses[0].confidence >= 0.6
    assert release.features["drove_path"] == 1.0
    assert release.features.get("upstream_alarm_first", 0.0) == 0.0  # the alarm is what the release did
    assert payments.features["our_release_drove_it"] == 1.0
    assert payments.confidence < release.confidence - 0.3
    assert "stepped up 50 times right after it" in release.summary


def test_without_the_step_at_the_release_the_dependency_that_alarmed_first_leads() -> None:
    hypotheses = rank(_world(-60), CTX)  # the dependency's load rose long after the release
    assert hypotheses[0].category is Category.DEPENDENCY and hypotheses[0].culprit == "payments"
    assert find(hypotheses, "checkout:118").features["drove_path"] == 0.0


def test_a_step_that_our_own_traffic_made_too_is_traffic_passing_through() -> None:
    hypotheses = rank(_world(-150, front_step=-149), CTX)
    assert find(hypotheses, "checkout:118").features["drove_path"] == 0.0
    assert find(hypotheses, "payments").features["our_release_drove_it"] == 0.0


def test_nothing_is_driven_when_our_own_traffic_was_never_read() -> None:
    hypotheses = rank(_world(-150, front_step=None), CTX)
    assert find(hypotheses, "checkout:118").features["drove_path"] == 0.0


def test_a_small_step_is_not_a_release_multiplying_its_calls() -> None:
    hypotheses = rank(_world(-150, ratio=1.5), CTX)
    assert find(hypotheses, "checkout:118").features["drove_path"] == 0.0


def test_a_mobile_push_endpoint_is_named_by_the_platform_application_holding_its_certificate() -> None:
    endpoint = "arn:aws:sns:us-west-2:382057194463:endpoint/APNS/authenticator-ios/4ae7f9bddd48"
    assert credential_holder(endpoint) == "arn:aws:sns:us-west-2:382057194463:app/APNS/authenticator-ios"
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c"
    assert credential_holder(certificate) == certificate
    failure = logs(
        (-8, f"ERROR delivery to {endpoint} failed: TLS handshake with api.push.apple.com: certificate has expired")
    )
    (top, *_) = [h for h in rank([*shift_at(8), *failure], CTX) if h.category is Category.CREDENTIAL_EXPIRY]
    assert top.culprit == "arn:aws:sns:us-west-2:382057194463:app/APNS/authenticator-ios"
