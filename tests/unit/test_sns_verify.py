"""SNS signature verification against real AWS-signed fixtures, plus the certificate-URL rule and fetchers."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from oncall_agent.domain.errors import ConfigError, SignatureError
from oncall_agent.domain.time import parse_aws_timestamp
from oncall_agent.intake import sns_certs
from oncall_agent.intake.sns import (
    SIGNED_FIELDS,
    CertificateUnavailableError,
    check_certificate_url,
    mapped_certificate_fetcher,
    string_to_sign,
    verify_message,
)

RUBY_CERT = "sns/aws-sdk-ruby/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
JAVA_UNIT_CERT = "sns/aws-sdk-java-v2/unit-test-public-cert.pem"
JAVA_SNS_CERT = "sns/aws-sdk-java-v2/sns-public-cert.pem"
CW_CERT = "cloudwatch/sns_signed/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"

# Written out from the AWS documentation, independently of the module under test.
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


@dataclass(frozen=True)
class Fixture:
    message: str
    cert: str
    signed_fields: tuple[str, ...]

    def __str__(self) -> str:
        return self.message


def _notification(path: str, cert: str, *, subject: bool) -> Fixture:
    fields = NOTIFICATION_FIELDS if subject else tuple(f for f in NOTIFICATION_FIELDS if f != "Subject")
    return Fixture(path, cert, fields)


FIXTURES = [
    _notification("sns/aws-sdk-ruby/message_sv1_sha1.json", RUBY_CERT, subject=False),
    _notification("sns/aws-sdk-ruby/message_sv2_sha256.json", RUBY_CERT, subject=False),
    _notification("sns/aws-sdk-ruby/message_lambda_style_sv1.json", RUBY_CERT, subject=False),
    _notification("sns/aws-php-sns-message-validator/message_sv1_with_subject.json", RUBY_CERT, subject=True),
    _notification("sns/aws-php-sns-message-validator/message_sv2_with_subject.json", RUBY_CERT, subject=True),
    _notification("sns/aws-sdk-java-v2/sample-message.json", JAVA_UNIT_CERT, subject=True),
    Fixture("sns/ex_aws/subscription_confirmation_sv1.json", JAVA_SNS_CERT, CONFIRMATION_FIELDS),
    _notification("cloudwatch/sns_signed/metric_alarm_sns_record_sv1.json", CW_CERT, subject=True),
    _notification("cloudwatch/sns_signed/composite_alarm_sns_record_sv1.json", CW_CERT, subject=True),
]
TAMPER_CASES = [(fx, field) for fx in FIXTURES for field in fx.signed_fields]

RUBY_SV1 = FIXTURES[0]
GOOD_URL = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"


def load(payloads_dir: Path, fixture: Fixture) -> dict[str, Any]:
    message: dict[str, Any] = json.loads((payloads_dir / fixture.message).read_text())
    return message


def cert_url(message: dict[str, Any]) -> str:
    url = message.get("SigningCertURL") or message["SigningCertUrl"]
    assert isinstance(url, str)
    return url


def fetcher_for(payloads_dir: Path, fixture: Fixture, message: dict[str, Any]) -> Callable[[str], bytes]:
    return mapped_certificate_fetcher({cert_url(message): (payloads_dir / fixture.cert).as_uri()})


def signed_at(message: dict[str, Any]) -> datetime:
    return parse_aws_timestamp(message["Timestamp"])


def one_char_changed(value: str) -> str:
    return value[:-1] + ("x" if value[-1] != "x" else "y")


class RecordingFetcher:
    """Returns the real certificate, so a forgotten URL check would let verification go further."""

    def __init__(self, pem: bytes) -> None:
        self.pem = pem
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        return self.pem


def load_cert(payloads_dir: Path, relative: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((payloads_dir / relative).read_bytes())


# --- real fixtures ----------------------------------------------------------------------------------------


def test_signed_fields_are_the_documented_ones() -> None:
    assert dict(SIGNED_FIELDS) == {
        "Notification": NOTIFICATION_FIELDS,
        "SubscriptionConfirmation": CONFIRMATION_FIELDS,
        "UnsubscribeConfirmation": CONFIRMATION_FIELDS,
    }


@pytest.mark.parametrize("fixture", FIXTURES, ids=str)
def test_real_fixture_verifies_at_its_timestamp(payloads_dir: Path, fixture: Fixture) -> None:
    message = load(payloads_dir, fixture)
    assert {f for f in NOTIFICATION_FIELDS + CONFIRMATION_FIELDS if f in message} == set(fixture.signed_fields)
    verify_message(message, at=signed_at(message), fetch_certificate=fetcher_for(payloads_dir, fixture, message))


def test_string_to_sign_matches_the_documented_layout(payloads_dir: Path) -> None:
    message = load(payloads_dir, FIXTURES[3])  # with Subject
    assert (
        string_to_sign(message)
        == (
            "Message\nHello world\n"
            "MessageId\n11405cc3-9ac7-56d5-b45d-079e8f7a8edf\n"
            "Subject\nHello world\n"
            "Timestamp\n2022-07-28T22:53:49.654Z\n"
            f"TopicArn\n{message['TopicArn']}\n"
            "Type\nNotification\n"
        ).encode()
    )


@pytest.mark.parametrize(("fixture", "field"), TAMPER_CASES, ids=str)
def test_one_character_change_in_a_signed_field_fails(payloads_dir: Path, fixture: Fixture, field: str) -> None:
    message = load(payloads_dir, fixture)
    fetch = fetcher_for(payloads_dir, fixture, message)
    at = signed_at(message)
    message[field] = one_char_changed(message[field])
    # Changing Type makes it unknown; every other change must reach the signature check and fail there.
    reason = "unknown SNS message Type" if field == "Type" else "signature does not match"
    with pytest.raises(SignatureError, match=reason):
        verify_message(message, at=at, fetch_certificate=fetch)


@pytest.mark.parametrize("fixture", FIXTURES, ids=str)
def test_swapped_signature_version_fails(payloads_dir: Path, fixture: Fixture) -> None:
    message = load(payloads_dir, fixture)
    message["SignatureVersion"] = {"1": "2", "2": "1"}[message["SignatureVersion"]]
    with pytest.raises(SignatureError, match="signature does not match"):
        verify_message(message, at=signed_at(message), fetch_certificate=fetcher_for(payloads_dir, fixture, message))


def test_adding_or_removing_subject_fails(payloads_dir: Path) -> None:
    without = load(payloads_dir, RUBY_SV1)
    without["Subject"] = "Hello world"
    with pytest.raises(SignatureError, match="signature does not match"):
        verify_message(without, at=signed_at(without), fetch_certificate=fetcher_for(payloads_dir, RUBY_SV1, without))
    with_subject = load(payloads_dir, FIXTURES[3])
    del with_subject["Subject"]
    with pytest.raises(SignatureError, match="signature does not match"):
        verify_message(
            with_subject,
            at=signed_at(with_subject),
            fetch_certificate=fetcher_for(payloads_dir, FIXTURES[3], with_subject),
        )


def test_null_subject_of_lambda_records_counts_as_absent(payloads_dir: Path) -> None:
    fixture = FIXTURES[2]
    message = load(payloads_dir, fixture)
    message["Subject"] = None
    verify_message(message, at=signed_at(message), fetch_certificate=fetcher_for(payloads_dir, fixture, message))


def test_signature_from_another_key_fails(payloads_dir: Path) -> None:
    message = load(payloads_dir, RUBY_SV1)
    other = load_cert(payloads_dir, JAVA_UNIT_CERT)
    fetch = mapped_certificate_fetcher({GOOD_URL: (payloads_dir / JAVA_UNIT_CERT).as_uri()})
    with pytest.raises(SignatureError, match="signature does not match"):
        verify_message(message, at=other.not_valid_before_utc + timedelta(days=1), fetch_certificate=fetch)


# --- certificate validity ---------------------------------------------------------------------------------


def test_certificate_expired_at_the_given_time_fails(payloads_dir: Path) -> None:
    message = load(payloads_dir, RUBY_SV1)
    cert = load_cert(payloads_dir, RUBY_CERT)
    fetch = fetcher_for(payloads_dir, RUBY_SV1, message)
    verify_message(message, at=cert.not_valid_after_utc, fetch_certificate=fetch)  # bounds are inclusive
    with pytest.raises(SignatureError, match="expired"):
        verify_message(message, at=cert.not_valid_after_utc + timedelta(seconds=1), fetch_certificate=fetch)


def test_certificate_not_yet_valid_at_the_given_time_fails(payloads_dir: Path) -> None:
    message = load(payloads_dir, RUBY_SV1)
    cert = load_cert(payloads_dir, RUBY_CERT)
    fetch = fetcher_for(payloads_dir, RUBY_SV1, message)
    verify_message(message, at=cert.not_valid_before_utc, fetch_certificate=fetch)
    with pytest.raises(SignatureError, match="not yet valid"):
        verify_message(message, at=cert.not_valid_before_utc - timedelta(seconds=1), fetch_certificate=fetch)


def test_naive_time_is_taken_as_utc(payloads_dir: Path) -> None:
    message = load(payloads_dir, RUBY_SV1)
    cert = load_cert(payloads_dir, RUBY_CERT)
    fetch = fetcher_for(payloads_dir, RUBY_SV1, message)
    just_after = (cert.not_valid_after_utc + timedelta(seconds=1)).replace(tzinfo=None)
    with pytest.raises(SignatureError, match="expired"):
        verify_message(message, at=just_after, fetch_certificate=fetch)


# --- certificate URL rule ---------------------------------------------------------------------------------

PEM_NAME = "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
BAD_URLS = [
    (f"http://sns.us-east-2.amazonaws.com/{PEM_NAME}", "scheme must be https"),
    (f"HTTPS://sns.us-east-2.amazonaws.com/{PEM_NAME}", "scheme must be https"),
    (f"//sns.us-east-2.amazonaws.com/{PEM_NAME}", "scheme must be https"),
    (f"file:///sns.us-east-2.amazonaws.com/{PEM_NAME}", "scheme must be https"),
    (f"https://s3.amazonaws.com/{PEM_NAME}", "host must be"),
    (f"https://sns.amazonaws.com/{PEM_NAME}", "host must be"),
    (f"https://sns.us-east-2.amazonaws.com.evil.com/{PEM_NAME}", "host must be"),
    (f"https://sns.us-east-2.amazonaws.com.cn.evil.com/{PEM_NAME}", "host must be"),
    (f"https://sns-us-east-2.amazonaws.com/{PEM_NAME}", "host must be"),
    (f"https://evilsns.us-east-2.amazonaws.com/{PEM_NAME}", "host must be"),
    (f"https://sns.evil.us-east-2.amazonaws.com/{PEM_NAME}", "host must be"),
    (f"https://sns.us-east-2.amazonaws.com./{PEM_NAME}", "host must be"),
    (f"https://sns.us-east-2.amazonaws.co/{PEM_NAME}", "host must be"),
    (f"https://SNS.US-EAST-2.AMAZONAWS.COM/{PEM_NAME}", "host must be"),
    (f"https://sns.us-east-2.amazonaws.com:8443/{PEM_NAME}", "port"),
    (f"https://sns.us-east-2.amazonaws.com:443/{PEM_NAME}", "port"),
    (f"https://user@sns.us-east-2.amazonaws.com/{PEM_NAME}", "userinfo"),
    (f"https://sns.us-east-2.amazonaws.com:x@evil.com/{PEM_NAME}", "userinfo"),
    (f"https://evil.com#@sns.us-east-2.amazonaws.com/{PEM_NAME}", "host must be"),
    (f"https://sns.us-east-2.amazonaws.com\\@evil.com/{PEM_NAME}", "characters"),
    (f"https://sns.us-east-2.amazonaws.com/extra/{PEM_NAME}", "path must be"),
    (f"https://sns.us-east-2.amazonaws.com/{PEM_NAME}/extra", "path must be"),
    (f"https://sns.us-east-2.amazonaws.com//{PEM_NAME}", "path must be"),
    (f"https://sns.us-east-2.amazonaws.com/{PEM_NAME}?x=1", "query"),
    (f"https://sns.us-east-2.amazonaws.com/{PEM_NAME}?", "query"),
    (f"https://sns.us-east-2.amazonaws.com/{PEM_NAME}#frag", "fragment"),
    (f"https://sns.us-east-2.amazonaws.com/{PEM_NAME}\n", "characters"),
    (f" https://sns.us-east-2.amazonaws.com/{PEM_NAME}", "characters"),
    ("https://sns.us-east-2.amazonaws.com/SimpleNotificationService-%2e%2e.pem", "characters"),
    ("https://sns.us-east-2.amazonaws.com/SimpleNotificationService.pem", "path must be"),
    ("https://sns.us-east-2.amazonaws.com/SimpleNotificationService-.pem", "path must be"),
    ("https://sns.us-east-2.amazonaws.com/SimpleNotificationService-abc.crt", "path must be"),
    ("https://sns.us-east-2.amazonaws.com/SimpleNotificationService-abc.pem.exe", "path must be"),
    ("https://sns.us-east-2.amazonaws.com/simplenotificationservice-abc.pem", "path must be"),
    ("https://sns.us-east-2.amazonaws.com/Other-abc.pem", "path must be"),
    ("https://sns.us-east-2.amazonaws.com/SimpleNotificationService-a/b.pem", "path must be"),
    ("https://sns.us-east-2.amazonaws.com/SimpleNotificationService-a.b.pem", "path must be"),
    ("", "missing"),
]


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
def test_bad_certificate_url_is_refused_without_fetching(payloads_dir: Path, url: str, reason: str) -> None:
    message = load(payloads_dir, RUBY_SV1)
    message["SigningCertURL"] = url
    fetch = RecordingFetcher((payloads_dir / RUBY_CERT).read_bytes())
    with pytest.raises(SignatureError, match=reason) as caught:
        verify_message(message, at=signed_at(message), fetch_certificate=fetch)
    assert fetch.calls == []
    assert not isinstance(caught.value, CertificateUnavailableError)


def test_bad_lambda_style_certificate_url_is_refused_without_fetching(payloads_dir: Path) -> None:
    fixture = FIXTURES[2]
    message = load(payloads_dir, fixture)
    message["SigningCertUrl"] = f"https://sns.us-east-2.amazonaws.com.evil.com/{PEM_NAME}"
    fetch = RecordingFetcher((payloads_dir / RUBY_CERT).read_bytes())
    with pytest.raises(SignatureError, match="host must be"):
        verify_message(message, at=signed_at(message), fetch_certificate=fetch)
    assert fetch.calls == []


def test_conflicting_certificate_url_casings_are_refused(payloads_dir: Path) -> None:
    message = load(payloads_dir, RUBY_SV1)
    message["SigningCertUrl"] = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-other.pem"
    fetch = RecordingFetcher((payloads_dir / RUBY_CERT).read_bytes())
    with pytest.raises(SignatureError, match="different values"):
        verify_message(message, at=signed_at(message), fetch_certificate=fetch)
    assert fetch.calls == []


def test_both_casings_with_the_same_url_verify(payloads_dir: Path) -> None:
    message = load(payloads_dir, RUBY_SV1)
    message["SigningCertUrl"] = message["SigningCertURL"]
    verify_message(message, at=signed_at(message), fetch_certificate=fetcher_for(payloads_dir, RUBY_SV1, message))


@pytest.mark.parametrize(
    "url",
    [
        GOOD_URL,
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-3242f07a2a3f26a0d4ed3e7a2b1e4c6c.pem",
        "https://sns.cn-northwest-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.ap-southeast-4.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-b95095beb82e8f6a046b3aafc7f4149a.pem",
    ],
)
def test_good_certificate_urls_pass(url: str) -> None:
    assert check_certificate_url(url) == url


# --- malformed messages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"Type": "Surprise"}, "unknown SNS message Type"),
        ({"Type": None}, "unknown SNS message Type"),
        ({"Signature": None}, "missing Signature"),
        ({"Signature": ""}, "missing Signature"),
        ({"Signature": "not base64 at all!"}, "not valid base64"),
        ({"Signature": "QUJD$"}, "not valid base64"),
        ({"Signature": 12}, "Signature must be a string"),
        ({"SignatureVersion": "3"}, "unsupported SignatureVersion '3'"),
        ({"SignatureVersion": 1}, "unsupported SignatureVersion 1"),
        ({"SignatureVersion": None}, "missing SignatureVersion"),
        ({"SigningCertURL": None}, "missing SigningCertURL"),
        ({"SigningCertURL": ["https://sns.us-east-2.amazonaws.com/x.pem"]}, "not a string"),
        ({"MessageId": None}, "missing the signed field MessageId"),
        ({"Message": {"nested": "json"}}, "Message must be a string"),
    ],
)
def test_malformed_message_is_refused_without_fetching(payloads_dir: Path, change: dict[str, Any], reason: str) -> None:
    message = load(payloads_dir, RUBY_SV1)
    for key, value in change.items():
        if value is None:
            del message[key]
        else:
            message[key] = value
    fetch = RecordingFetcher((payloads_dir / RUBY_CERT).read_bytes())
    with pytest.raises(SignatureError, match=reason):
        verify_message(message, at=signed_at(message), fetch_certificate=fetch)
    assert fetch.calls == []


def test_valid_base64_of_the_wrong_bytes_fails(payloads_dir: Path) -> None:
    message = load(payloads_dir, RUBY_SV1)
    message["Signature"] = base64.b64encode(b"\x00" * 256).decode()
    with pytest.raises(SignatureError, match="signature does not match"):
        verify_message(message, at=signed_at(message), fetch_certificate=fetcher_for(payloads_dir, RUBY_SV1, message))


def test_non_object_message_is_refused() -> None:
    with pytest.raises(SignatureError, match="JSON object"):
        verify_message(["Type"], at=datetime.now(UTC))  # type: ignore[arg-type]


def test_subscription_confirmation_without_token_is_refused(payloads_dir: Path) -> None:
    fixture = FIXTURES[6]
    message = load(payloads_dir, fixture)
    del message["Token"]
    with pytest.raises(SignatureError, match="missing the signed field Token"):
        verify_message(message, at=signed_at(message), fetch_certificate=fetcher_for(payloads_dir, fixture, message))


# --- what the fetcher returns -----------------------------------------------------------------------------


def test_fetcher_failure_is_a_transient_signature_error(payloads_dir: Path) -> None:
    message = load(payloads_dir, RUBY_SV1)

    def broken(url: str) -> bytes:
        raise TimeoutError("took too long")

    with pytest.raises(CertificateUnavailableError, match=r"could not fetch.*took too long"):
        verify_message(message, at=signed_at(message), fetch_certificate=broken)


def test_fetcher_returning_garbage_is_refused(payloads_dir: Path) -> None:
    message = load(payloads_dir, RUBY_SV1)
    with pytest.raises(SignatureError, match=r"not a PEM X\.509 certificate") as caught:
        verify_message(message, at=signed_at(message), fetch_certificate=lambda url: b"<html>hello</html>")
    assert not isinstance(caught.value, CertificateUnavailableError)


def test_fetcher_returning_text_is_refused(payloads_dir: Path) -> None:
    message = load(payloads_dir, RUBY_SV1)
    pem_text = (payloads_dir / RUBY_CERT).read_text()
    with pytest.raises(SignatureError, match="not bytes"):
        verify_message(message, at=signed_at(message), fetch_certificate=lambda url: pem_text)  # type: ignore[arg-type,return-value]


def test_certificate_without_rsa_key_is_refused(payloads_dir: Path, tmp_path: Path) -> None:
    message = load(payloads_dir, RUBY_SV1)
    at = signed_at(message)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(at - timedelta(days=1))
        .not_valid_after(at + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(SignatureError, match="RSA"):
        verify_message(message, at=at, fetch_certificate=lambda url: cert.public_bytes(serialization.Encoding.PEM))


# --- mapped fetcher (the sandbox seam) --------------------------------------------------------------------


def test_mapped_fetcher_reads_file_sources(payloads_dir: Path) -> None:
    fetch = mapped_certificate_fetcher({GOOD_URL: (payloads_dir / RUBY_CERT).as_uri()})
    assert fetch(GOOD_URL) == (payloads_dir / RUBY_CERT).read_bytes()


def test_mapped_fetcher_without_source_or_fallback_fails(payloads_dir: Path) -> None:
    fetch = mapped_certificate_fetcher({GOOD_URL: (payloads_dir / RUBY_CERT).as_uri()})
    with pytest.raises(CertificateUnavailableError, match="no certificate source"):
        fetch("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-other.pem")


def test_mapped_fetcher_delegates_unmapped_urls_to_fallback(payloads_dir: Path) -> None:
    fallback = RecordingFetcher(b"from fallback")
    fetch = mapped_certificate_fetcher({GOOD_URL: (payloads_dir / RUBY_CERT).as_uri()}, fallback)
    other = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-other.pem"
    assert fetch(other) == b"from fallback"
    assert fetch(GOOD_URL) != b"from fallback"
    assert fallback.calls == [other]


def test_mapped_fetcher_missing_file_is_unavailable(tmp_path: Path) -> None:
    fetch = mapped_certificate_fetcher({GOOD_URL: (tmp_path / "absent.pem").as_uri()})
    with pytest.raises(CertificateUnavailableError, match="cannot read"):
        fetch(GOOD_URL)


def test_mapped_fetcher_oversize_file_is_unavailable(tmp_path: Path) -> None:
    big = tmp_path / "big.pem"
    big.write_bytes(b"A" * (sns_certs.MAX_CERTIFICATE_BYTES + 1))
    fetch = mapped_certificate_fetcher({GOOD_URL: big.as_uri()})
    with pytest.raises(CertificateUnavailableError, match="larger than"):
        fetch(GOOD_URL)


@pytest.mark.parametrize(
    ("key", "location", "reason"),
    [
        (
            "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-a.pem",
            "file:///x.pem",
            "SNS certificate URL",
        ),
        ("https://localhost/cert.pem", "file:///x.pem", "SNS certificate URL"),
        (GOOD_URL, "http://10.0.0.5:8080/cert.pem", "loopback"),
        (GOOD_URL, "http://localhost:8080/cert.pem", "loopback"),
        (GOOD_URL, "http://example.com/cert.pem", "loopback"),
        (GOOD_URL, "https://example.com/cert.pem", "file:// URL or loopback"),
        (GOOD_URL, "ftp://127.0.0.1/cert.pem", "file:// URL or loopback"),
        (GOOD_URL, "/etc/cert.pem", "file:// URL or loopback"),
        (GOOD_URL, "file://remote-host/cert.pem", "file:///absolute/path"),
    ],
)
def test_mapped_fetcher_refuses_bad_configuration(key: str, location: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        mapped_certificate_fetcher({key: location})


# --- bounded download against a local plain-HTTP server ---------------------------------------------------

LIMIT = sns_certs.MAX_CERTIFICATE_BYTES


class _Handler(BaseHTTPRequestHandler):
    pem = b""
    seen: list[str] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        routes: dict[str, Callable[[], None]] = {
            "/cert.pem": lambda: self._send(self.pem),
            "/redirect": self._redirect,
            "/big": lambda: self._send(b"A" * (LIMIT + 1)),
            "/big-unsized": self._big_unsized,
            "/missing": lambda: self._send(b"nope", status=404),
            "/drip": self._drip,
        }
        routes.get(self.path, lambda: self._send(b"?", status=404))()

    def _send(self, body: bytes, *, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self) -> None:
        self.send_response(302)
        self.send_header("Location", "/cert.pem")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _big_unsized(self) -> None:
        # No Content-Length: the body ends when the connection closes; the reader must stop on its own.
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for _ in range(8):
                self.wfile.write(b"B" * LIMIT)
        except OSError:
            pass

    def _drip(self) -> None:
        # Each byte arrives well within the socket timeout; only a total deadline stops this.
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"C")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def http_base(payloads_dir: Path) -> Iterator[str]:
    _Handler.pem = (payloads_dir / RUBY_CERT).read_bytes()
    _Handler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def plain_http_opener() -> urllib.request.OpenerDirector:
    return sns_certs.build_opener(urllib.request.HTTPHandler())


def test_read_limited_returns_the_body(http_base: str, payloads_dir: Path) -> None:
    assert sns_certs.read_limited(plain_http_opener(), f"{http_base}/cert.pem") == _Handler.pem


def test_read_limited_refuses_redirects(http_base: str) -> None:
    with pytest.raises(CertificateUnavailableError, match=r"302 redirect.*refused"):
        sns_certs.read_limited(plain_http_opener(), f"{http_base}/redirect")
    assert _Handler.seen == ["/redirect"]  # the target was never requested


@pytest.mark.parametrize("path", ["/big", "/big-unsized"])
def test_read_limited_refuses_oversize_bodies(http_base: str, path: str) -> None:
    with pytest.raises(CertificateUnavailableError, match=f"larger than {LIMIT} bytes"):
        sns_certs.read_limited(plain_http_opener(), f"{http_base}{path}")


def test_read_limited_refuses_error_statuses(http_base: str) -> None:
    with pytest.raises(CertificateUnavailableError, match="HTTP 404"):
        sns_certs.read_limited(plain_http_opener(), f"{http_base}/missing")


def test_read_limited_enforces_a_total_deadline(http_base: str) -> None:
    started = time.monotonic()
    with pytest.raises(CertificateUnavailableError, match="time limit"):
        sns_certs.read_limited(plain_http_opener(), f"{http_base}/drip", timeout=0.5)
    assert time.monotonic() - started < 2.5


def test_read_limited_reports_connection_failures() -> None:
    with pytest.raises(CertificateUnavailableError, match="failed"):
        sns_certs.read_limited(plain_http_opener(), "http://127.0.0.1:9/cert.pem", timeout=1)


def test_production_download_never_speaks_plain_http(http_base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CertificateUnavailableError, match="unknown url type"):
        sns_certs.download_certificate(f"{http_base}/cert.pem")
    assert _Handler.seen == []


def test_mapped_fetcher_reads_loopback_http_sources(http_base: str) -> None:
    fetch = mapped_certificate_fetcher({GOOD_URL: f"{http_base}/cert.pem"})
    assert fetch(GOOD_URL) == _Handler.pem


def test_mapped_fetcher_loopback_http_does_not_follow_redirects(http_base: str) -> None:
    fetch = mapped_certificate_fetcher({GOOD_URL: f"{http_base}/redirect"})
    with pytest.raises(CertificateUnavailableError, match="redirect"):
        fetch(GOOD_URL)
    assert _Handler.seen == ["/redirect"]


# --- cache ------------------------------------------------------------------------------------------------


def test_default_fetcher_is_cached_https_download() -> None:
    assert isinstance(sns_certs.default_certificate_fetcher, sns_certs.CachingCertificateFetcher)
    assert sns_certs.default_certificate_fetcher._fetch is sns_certs.download_certificate


def test_cache_fetches_each_url_once_and_is_bounded(payloads_dir: Path) -> None:
    source = RecordingFetcher((payloads_dir / RUBY_CERT).read_bytes())
    cache = sns_certs.CachingCertificateFetcher(source, max_entries=2)
    urls = [f"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-{n}.pem" for n in "abc"]
    cache(urls[0])
    cache(urls[0])
    assert source.calls == [urls[0]]
    cache(urls[1])
    cache(urls[0])  # urls[0] is now the most recently used
    cache(urls[2])  # evicts urls[1]
    cache(urls[0])
    cache(urls[1])
    assert source.calls == [urls[0], urls[1], urls[2], urls[1]]


def test_cache_does_not_keep_bodies_that_are_not_certificates() -> None:
    source = RecordingFetcher(b"<html>maintenance</html>")
    cache = sns_certs.CachingCertificateFetcher(source)
    cache(GOOD_URL)
    cache(GOOD_URL)
    assert source.calls == [GOOD_URL, GOOD_URL]


def test_verification_through_the_cache_fetches_once(payloads_dir: Path) -> None:
    message = load(payloads_dir, RUBY_SV1)
    source = RecordingFetcher((payloads_dir / RUBY_CERT).read_bytes())
    cache = sns_certs.CachingCertificateFetcher(source)
    for _ in range(3):
        verify_message(message, at=signed_at(message), fetch_certificate=cache)
    assert source.calls == [GOOD_URL]
