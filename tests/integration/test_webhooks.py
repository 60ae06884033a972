"""Webhook answers over real HTTP: every outcome asserted by status, body, what was stored and the counters."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from oncall_agent.domain.time import parse_aws_timestamp
from oncall_agent.intake.service import IntakeService, SubscriptionRequest
from oncall_agent.intake.sns import mapped_certificate_fetcher, verify_message
from oncall_agent.observability import IntakeMetrics
from oncall_agent.sandbox.sns_signer import SnsSigner
from oncall_agent.sandbox.standins.server import BackgroundServer
from oncall_agent.store.engine import make_engine
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.migrate import upgrade
from oncall_agent.web.app import create_app

TOPIC = "arn:aws:sns:us-east-1:123456789012:oncall-alarms"
SECRET = "eb-shared-secret-value"
DIAGNOSTICS_TOPIC = "arn:aws:sns:us-east-1:427809481713:if-sim-app-AWSCloudWatchDiagnostics"  # the real fixture's
ALARM_ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-5xx-high"


def alarm_message(state: str = "ALARM", when: str = "2026-11-24T10:00:00.123+0000") -> str:
    return json.dumps(
        {
            "AlarmName": "checkout-5xx-high",
            "AlarmDescription": "5xx from checkout",
            "AWSAccountId": "123456789012",
            "NewStateValue": state,
            "NewStateReason": "Threshold Crossed",
            "StateChangeTime": when,
            "Region": "US East (N. Virginia)",
            "AlarmArn": ALARM_ARN,
            "OldStateValue": "OK",
            "Trigger": {
                "MetricName": "HTTPCode_Target_5XX_Count",
                "Namespace": "AWS/ApplicationELB",
                "StatisticType": "Statistic",
                "Statistic": "SUM",
                "Unit": None,
                "Dimensions": [{"value": "targetgroup/checkout/1a2b", "name": "TargetGroup"}],
                "Period": 60,
                "EvaluationPeriods": 3,
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": 50.0,
            },
        }
    )


@dataclass
class Harness:
    url: str
    store: SqlIncidentStore
    metrics: IntakeMetrics
    signer: SnsSigner
    db_path: Path
    fetched: list[str] = field(default_factory=list)
    subscriptions: list[SubscriptionRequest] = field(default_factory=list)

    def sns(self, body: Any, content_type: str = "text/plain; charset=UTF-8", **headers: str) -> requests.Response:
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return requests.post(
            f"{self.url}/webhooks/sns",
            data=data,
            timeout=10,
            headers={"content-type": content_type, **headers},
        )

    def eventbridge(self, body: Any, secret: str | None = SECRET) -> requests.Response:
        headers = {"content-type": "application/json"}
        if secret is not None:
            headers["x-oncall-agent-secret"] = secret
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return requests.post(f"{self.url}/webhooks/eventbridge", data=data, headers=headers, timeout=10)

    def stored(self) -> int:
        return self.store.event_counts()["events"]

    def counter(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def signed(self, message: str, **kwargs: Any) -> dict[str, Any]:
        return self.signer.notification(TOPIC, message, subject="ALARM: checkout", **kwargs)


def make_harness(
    tmp_path: Path,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    extra_certs: dict[str, str] | None = None,
    serve: Callable[[Any], tuple[str, Callable[[], None]]] | None = None,
    body_timeout_seconds: float = 10.0,
    allowed_topics: frozenset[str] = frozenset({TOPIC, DIAGNOSTICS_TOPIC}),
    eventbridge_secret: str | None = SECRET,
) -> Iterator[Harness]:
    """`serve(app) -> (url, stop)`: how to serve the app (default: a stand-in's uvicorn in a thread)."""
    db_path = tmp_path / "oncall.db"
    url = f"sqlite:///{db_path}"
    upgrade(url)
    store = SqlIncidentStore(make_engine(url, busy_timeout_ms=300))
    signer = SnsSigner()
    pem = tmp_path / "sandbox-cert.pem"
    pem.write_bytes(signer.certificate_pem)
    sources = {signer.certificate_url("us-east-1"): pem.as_uri(), **(extra_certs or {})}
    fetcher = mapped_certificate_fetcher(sources, fallback=None)
    metrics = IntakeMetrics()
    harness = Harness("", store, metrics, signer, db_path)

    def fetch(url: str) -> bytes:
        harness.fetched.append(url)
        return fetcher(url)

    intake = IntakeService(
        store=store,
        verify_sns=lambda m, at: verify_message(m, at=at, fetch_certificate=fetch),
        allowed_topics=allowed_topics,
        eventbridge_secret=eventbridge_secret,
        now=clock,
        on_subscription=harness.subscriptions.append,
    )
    app = create_app(
        intake, metrics, 64 * 1024, "x-oncall-agent-secret", store.ping, body_timeout_seconds=body_timeout_seconds
    )
    harness.url, stop = (serve or serve_in_background)(app)
    yield harness
    stop()


def serve_in_background(app: Any) -> tuple[str, Callable[[], None]]:
    server = BackgroundServer(app)
    return server.start(), server.stop


@pytest.fixture()
def harness(tmp_path: Path) -> Iterator[Harness]:
    yield from make_harness(tmp_path)


def test_signed_alarm_is_stored_once_and_the_duplicate_is_recorded(harness: Harness) -> None:
    message = harness.signed(alarm_message())
    first = harness.sns(message, **{"x-amz-sns-message-type": "Notification", "x-amz-sns-topic-arn": TOPIC})
    assert first.status_code == 200 and first.json()["status"] == "stored"
    again = harness.sns(message)
    assert again.status_code == 200 and again.json() == {
        "status": "duplicate",
        "event_id": first.json()["event_id"],
    }
    assert harness.store.event_counts() == {"events": 1, "duplicates": 1, "ungrouped": 1}
    assert harness.counter("oncall_events_stored_total", channel="sns") == 1
    assert harness.counter("oncall_events_duplicate_total", channel="sns") == 1


def test_same_state_change_with_a_new_message_id_is_a_duplicate(harness: Harness) -> None:
    assert harness.sns(harness.signed(alarm_message())).json()["status"] == "stored"
    redelivered = harness.signed(alarm_message(), message_id=str(uuid.uuid4()))
    assert harness.sns(redelivered).json()["status"] == "duplicate"
    assert harness.stored() == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        ("{not json", "text/plain", 400, "malformed_json"),
        ("[1, 2]", "application/json", 400, "bad_payload"),
        ('{"Type": "Notification"}', "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ('{"Type": "Bogus", "TopicArn": "x"}', "text/plain", 400, "bad_payload"),
        ("x" * (64 * 1024 + 1), "text/plain", 413, "body_too_large"),
    ],
)
def test_malformed_sns_requests_are_refused_and_nothing_is_stored(
    harness: Harness, body: str, content_type: str, status: int, reason: str
) -> None:
    answer = harness.sns(body, content_type=content_type)
    assert answer.status_code == status
    assert answer.json()["error"] == reason and answer.json()["detail"]
    assert harness.stored() == 0
    assert harness.counter("oncall_intake_rejected_total", channel="sns", reason=reason) == 1


def test_unknown_topic_is_refused_without_fetching_a_certificate(harness: Harness) -> None:
    message = harness.signer.notification("arn:aws:sns:us-east-1:999999999999:other", alarm_message())
    answer = harness.sns(message)
    assert answer.status_code == 403 and answer.json()["error"] == "topic_not_allowed"
    assert harness.fetched == [] and harness.stored() == 0


def test_tampered_signature_is_refused(harness: Harness) -> None:
    message = harness.signed(alarm_message())
    message["Message"] = message["Message"].replace("ALARM", "OK", 1)
    answer = harness.sns(message)
    assert answer.status_code == 403 and answer.json()["error"] == "bad_signature"
    assert harness.stored() == 0


def test_header_that_contradicts_the_body_is_refused(harness: Harness) -> None:
    answer = harness.sns(harness.signed(alarm_message()), **{"x-amz-sns-message-type": "SubscriptionConfirmation"})
    assert answer.status_code == 400 and harness.stored() == 0


def test_subscription_confirmation_is_verified_before_it_is_confirmed(harness: Harness) -> None:
    forged = harness.signer.subscription_confirmation(TOPIC, "token-123")
    forged["Token"] = "token-456"
    assert harness.sns(forged).status_code == 403
    assert harness.subscriptions == []
    genuine = harness.signer.subscription_confirmation(TOPIC, "token-123")
    answer = harness.sns(genuine)
    assert answer.status_code == 200 and answer.json()["status"] == "subscription_confirmation_accepted"
    assert harness.subscriptions == [SubscriptionRequest(TOPIC, "token-123")]
    assert harness.stored() == 0


def test_transient_store_failure_answers_5xx_so_sns_retries(harness: Harness) -> None:
    locker = sqlite3.connect(harness.db_path, timeout=0.1)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        answer = harness.sns(harness.signed(alarm_message()))
    finally:
        locker.rollback()
        locker.close()
    assert answer.status_code == 503 and answer.json()["error"] == "store_unavailable"
    retried = harness.sns(harness.signed(alarm_message()))
    assert retried.status_code == 200 and retried.json()["status"] == "stored"


def test_real_aws_signed_cloudwatch_notification_is_accepted_at_its_own_time(
    tmp_path: Path, payloads_dir: Path
) -> None:
    folder = payloads_dir / "cloudwatch" / "sns_signed"
    message = json.loads((folder / "metric_alarm_sns_record_sv1.json").read_text())
    cert_url = message["SigningCertUrl"]
    pem = folder / "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
    at = parse_aws_timestamp(message["Timestamp"])
    for harness in make_harness(tmp_path, clock=lambda: at, extra_certs={cert_url: pem.as_uri()}):
        answer = harness.sns(message)
        assert answer.status_code == 200 and answer.json()["status"] == "stored"
        assert harness.stored() == 1


def test_eventbridge_requires_the_shared_secret(harness: Harness, payloads_dir: Path) -> None:
    event = json.loads(
        (payloads_dir / "cloudwatch/eventbridge/state_change_for_a_single_metric_alarm.json").read_text()
    )
    for secret, status in ((None, 401), ("wrong", 401), (SECRET[:-1], 401)):
        answer = harness.eventbridge(event, secret=secret)
        assert answer.status_code == status and answer.json()["error"] == "unauthenticated"
    assert harness.stored() == 0
    ok = harness.eventbridge(event)
    assert ok.status_code == 200 and ok.json()["status"] == "stored"
    assert harness.eventbridge(event).json()["status"] == "duplicate"
    assert harness.stored() == 1


def test_an_empty_topic_allow_list_refuses_every_topic(tmp_path: Path) -> None:
    """Fail closed: no configured topic means no SNS intake, not "any topic"."""
    for harness in make_harness(tmp_path, allowed_topics=frozenset()):
        for topic in (TOPIC, "arn:aws:sns:us-east-1:999999999999:other"):
            answer = harness.sns(harness.signer.notification(topic, alarm_message()))
            assert answer.status_code == 403 and answer.json()["error"] == "topic_not_allowed"
        assert harness.fetched == [] and harness.stored() == 0


@pytest.mark.parametrize("unset", [None, ""])
def test_an_unset_eventbridge_secret_refuses_every_delivery(
    tmp_path: Path, payloads_dir: Path, unset: str | None
) -> None:
    """Fail closed: without a configured secret no header value - none, empty, any - is accepted."""
    event = json.loads(
        (payloads_dir / "cloudwatch/eventbridge/state_change_for_a_single_metric_alarm.json").read_text()
    )
    for harness in make_harness(tmp_path, eventbridge_secret=unset):
        for presented in (None, "", SECRET, "anything"):
            answer = harness.eventbridge(event, secret=presented)
            assert answer.status_code == 401 and answer.json()["error"] == "unauthenticated"
        assert harness.stored() == 0


def test_eventbridge_configuration_change_is_ignored_not_an_error(harness: Harness, payloads_dir: Path) -> None:
    event = json.loads((payloads_dir / "cloudwatch/eventbridge/update_of_a_metric_alarm.json").read_text())
    answer = harness.eventbridge(event)
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    assert harness.stored() == 0


def test_eventbridge_unrecognised_payload_is_a_4xx(harness: Harness) -> None:
    answer = harness.eventbridge({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2"})
    assert answer.status_code == 400 and answer.json()["error"] == "bad_payload"
    assert harness.stored() == 0


def test_health_readiness_and_metrics(harness: Harness, tmp_path: Path) -> None:
    assert requests.get(f"{harness.url}/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{harness.url}/readyz", timeout=5).status_code == 200
    harness.sns("{bad", content_type="text/plain")
    text = requests.get(f"{harness.url}/metrics", timeout=5).text
    assert 'oncall_intake_rejected_total{channel="sns",reason="malformed_json"} 1.0' in text


def test_readiness_fails_on_an_unmigrated_database(tmp_path: Path) -> None:
    store = SqlIncidentStore(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    intake = IntakeService(
        store=store,
        verify_sns=lambda m, at: None,
        allowed_topics=frozenset(),
        eventbridge_secret=None,
        now=lambda: datetime.now(UTC),
    )
    server = BackgroundServer(create_app(intake, IntakeMetrics(), 1024, "x", store.ping))
    url = server.start()
    try:
        answer = requests.get(f"{url}/readyz", timeout=5)
    finally:
        server.stop()
    assert answer.status_code == 503 and answer.json()["status"] == "not_ready"
