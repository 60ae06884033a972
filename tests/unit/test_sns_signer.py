"""The sandbox SNS signer produces messages the real, unweakened verifier accepts, and only those."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from oncall_agent.domain.errors import SignatureError
from oncall_agent.domain.time import parse_aws_timestamp
from oncall_agent.intake.sns import check_certificate_url, mapped_certificate_fetcher, verify_message
from oncall_agent.sandbox.sns_signer import SnsSigner

TOPIC = "arn:aws:sns:eu-west-1:123456789012:payments-alarms"
CN_TOPIC = "arn:aws-cn:sns:cn-north-1:123456789012:payments-alarms"
AT = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(scope="module")
def signer() -> SnsSigner:
    return SnsSigner(now=AT)


@pytest.fixture(scope="module")
def other_signer() -> SnsSigner:
    return SnsSigner(now=AT)


def fetcher(signer: SnsSigner, tmp_path: Path, *regions: str) -> Callable[[str], bytes]:
    pem = tmp_path / f"{id(signer)}.pem"
    pem.write_bytes(signer.certificate_pem)
    return mapped_certificate_fetcher({signer.certificate_url(region): pem.as_uri() for region in regions})


def verify(message: dict[str, Any], fetch: Callable[[str], bytes]) -> None:
    verify_message(message, at=parse_aws_timestamp(message["Timestamp"]), fetch_certificate=fetch)


# --- round trips --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("subject", [None, 'ALARM: "payments-5xx" in EU (Ireland)'])
def test_notification_verifies(signer: SnsSigner, tmp_path: Path, version: str, subject: str | None) -> None:
    message = signer.notification(
        TOPIC, '{"AlarmName": "payments-5xx"}', subject=subject, timestamp=AT, signature_version=version
    )
    assert message["SignatureVersion"] == version
    assert ("Subject" in message) == (subject is not None)
    verify(message, fetcher(signer, tmp_path, "eu-west-1"))


@pytest.mark.parametrize("version", ["1", "2"])
def test_subscription_confirmation_verifies(signer: SnsSigner, tmp_path: Path, version: str) -> None:
    message = signer.subscription_confirmation(TOPIC, "2336412f37fb", timestamp=AT, signature_version=version)
    verify(message, fetcher(signer, tmp_path, "eu-west-1"))


def test_china_partition_uses_the_cn_host_and_verifies(signer: SnsSigner, tmp_path: Path) -> None:
    message = signer.notification(CN_TOPIC, "hello", timestamp=AT)
    assert message["SigningCertURL"].startswith("https://sns.cn-north-1.amazonaws.com.cn/")
    assert message["UnsubscribeURL"].startswith("https://sns.cn-north-1.amazonaws.com.cn/?Action=Unsubscribe")
    pem = tmp_path / "cn.pem"
    pem.write_bytes(signer.certificate_pem)
    verify(message, mapped_certificate_fetcher({message["SigningCertURL"]: pem.as_uri()}))


def test_non_ascii_message_and_subject_verify(signer: SnsSigner, tmp_path: Path) -> None:
    message = signer.notification(TOPIC, "Überlast \u2013 🔥\nzweite Zeile", subject="Störung", timestamp=AT)
    verify(message, fetcher(signer, tmp_path, "eu-west-1"))


# --- what the messages look like ------------------------------------------------------------------------


def test_notification_has_the_sns_http_body_shape(signer: SnsSigner) -> None:
    message = signer.notification(TOPIC, "hello", subject="hi", message_id="m-1", timestamp=AT)
    assert list(message) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
    ]
    assert message["Type"] == "Notification"
    assert message["MessageId"] == "m-1"
    assert message["Timestamp"] == "2026-03-01T12:00:00.123Z"
    assert message["SigningCertURL"] == signer.certificate_url("eu-west-1")
    assert re.fullmatch(
        rf"https://sns\.eu-west-1\.amazonaws\.com/\?Action=Unsubscribe&SubscriptionArn={re.escape(TOPIC)}:[0-9a-f-]{{36}}",
        message["UnsubscribeURL"],
    )


def test_defaults_are_fresh_ids_and_the_current_time(signer: SnsSigner) -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    first, second = signer.notification(TOPIC, "a"), signer.notification(TOPIC, "b")
    assert first["MessageId"] != second["MessageId"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["Timestamp"])
    assert before <= parse_aws_timestamp(first["Timestamp"]) <= datetime.now(UTC)
    assert first["UnsubscribeURL"] == second["UnsubscribeURL"]  # same subscription, every message


def test_subscription_confirmation_has_the_sns_shape(signer: SnsSigner) -> None:
    message = signer.subscription_confirmation(TOPIC, "tok/en+1", timestamp=AT)
    assert message["Type"] == "SubscriptionConfirmation"
    assert message["Token"] == "tok/en+1"
    assert message["SubscribeURL"] == (
        f"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=tok%2Fen%2B1"
    )
    assert TOPIC in message["Message"]
    assert "UnsubscribeURL" not in message


def test_certificate_is_a_self_signed_sns_certificate(signer: SnsSigner) -> None:
    cert = x509.load_pem_x509_certificate(signer.certificate_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "sns.amazonaws.com"
    assert cert.issuer == cert.subject
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    assert cert.not_valid_before_utc == (AT - timedelta(days=1)).replace(microsecond=0)
    assert cert.not_valid_after_utc == (AT + timedelta(days=30)).replace(microsecond=0)


def test_certificate_urls_pass_the_url_rule_and_differ_per_signer(signer: SnsSigner, other_signer: SnsSigner) -> None:
    for region in ("us-east-1", "eu-west-1", "us-gov-west-1"):
        assert check_certificate_url(signer.certificate_url(region)) == signer.certificate_url(region)
    assert check_certificate_url(signer.certificate_url("cn-north-1", partition_suffix=".cn"))
    assert signer.certificate_url("us-east-1") == signer.certificate_url("us-east-1")
    assert signer.certificate_url("us-east-1") != other_signer.certificate_url("us-east-1")


# --- what must fail -------------------------------------------------------------------------------------

SIGNED = {
    "notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn"),
    "confirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn"),
}


def _make(signer: SnsSigner, kind: str) -> dict[str, Any]:
    if kind == "notification":
        return signer.notification(TOPIC, "hello", subject="hi", timestamp=AT)
    return signer.subscription_confirmation(TOPIC, "token", timestamp=AT)


@pytest.mark.parametrize(("kind", "field"), [(k, f) for k, fields in SIGNED.items() for f in fields])
def test_tampered_message_fails(signer: SnsSigner, tmp_path: Path, kind: str, field: str) -> None:
    message = _make(signer, kind)
    fetch = fetcher(signer, tmp_path, "eu-west-1")
    verify(message, fetch)  # the untampered message verifies, so the failure below is the tampering
    at = parse_aws_timestamp(message["Timestamp"])
    message[field] = message[field] + "."
    with pytest.raises(SignatureError, match="signature does not match"):
        verify_message(message, at=at, fetch_certificate=fetch)


def test_message_from_another_signer_fails(signer: SnsSigner, other_signer: SnsSigner, tmp_path: Path) -> None:
    message = other_signer.notification(TOPIC, "hello", timestamp=AT)
    # Serve *our* certificate under the other signer's URL: the keys differ, so the signature cannot match.
    pem = tmp_path / "ours.pem"
    pem.write_bytes(signer.certificate_pem)
    fetch = mapped_certificate_fetcher({message["SigningCertURL"]: pem.as_uri()})
    with pytest.raises(SignatureError, match="signature does not match"):
        verify(message, fetch)


def test_message_from_another_signer_has_no_configured_certificate(
    signer: SnsSigner, other_signer: SnsSigner, tmp_path: Path
) -> None:
    message = other_signer.notification(TOPIC, "hello", timestamp=AT)
    with pytest.raises(SignatureError, match="no certificate source"):
        verify(message, fetcher(signer, tmp_path, "eu-west-1"))


def test_message_outside_the_certificate_validity_fails(signer: SnsSigner, tmp_path: Path) -> None:
    message = signer.notification(TOPIC, "hello", timestamp=AT)
    fetch = fetcher(signer, tmp_path, "eu-west-1")
    with pytest.raises(SignatureError, match="expired"):
        verify_message(message, at=AT + timedelta(days=31), fetch_certificate=fetch)
    with pytest.raises(SignatureError, match="not yet valid"):
        verify_message(message, at=AT - timedelta(days=2), fetch_certificate=fetch)


def test_unsupported_signature_version_is_refused(signer: SnsSigner) -> None:
    with pytest.raises(ValueError, match="SignatureVersion"):
        signer.notification(TOPIC, "hello", signature_version="3")


@pytest.mark.parametrize(
    "arn",
    [
        "payments-alarms",
        "arn:aws:sqs:eu-west-1:123456789012:q",
        "arn:aws:sns::123456789012:t",
        "arn:aws:sns:x:1",
    ],
)
def test_bad_topic_arn_is_refused(signer: SnsSigner, arn: str) -> None:
    with pytest.raises(ValueError, match="not an SNS topic ARN"):
        signer.notification(arn, "hello")


# --- speed ----------------------------------------------------------------------------------------------


def test_signs_thousands_of_messages_quickly(signer: SnsSigner) -> None:
    # The bench replays 5,000 alarms; 1,000 here keeps the suite fast while catching a 10x regression.
    started = time.perf_counter()
    for n in range(1000):
        signer.notification(TOPIC, f"alarm {n}", subject="ALARM", timestamp=AT)
    assert time.perf_counter() - started < 5.0
