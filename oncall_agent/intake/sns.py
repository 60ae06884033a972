"""Verify that an SNS HTTP message was signed by SNS, following the AWS documentation exactly.

One responsibility: given a parsed SNS message and the time to judge certificate validity at, return or raise
`SignatureError` with the reason. Certificate URLs, downloading and caching live in `sns_certs.py`; topic
allow-lists and subscription confirmation are the caller's business (they need a verified message first).

Reference: "Verifying the signatures of Amazon SNS messages" (SNS developer guide). The string to sign is the
signed fields, in the documented order, each as "Key\\nValue\\n"; SignatureVersion 1 is RSA PKCS#1 v1.5 with
SHA1, version 2 the same with SHA256.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from oncall_agent.domain.errors import SignatureError
from oncall_agent.domain.time import as_utc
from oncall_agent.intake.sns_certs import (
    CertificateFetcher,
    CertificateUnavailableError,
    check_certificate_url,
    default_certificate_fetcher,
    mapped_certificate_fetcher,
)

__all__ = [
    "OPTIONAL_SIGNED_FIELDS",
    "SIGNATURE_HASHES",
    "SIGNED_FIELDS",
    "CertificateFetcher",
    "CertificateUnavailableError",
    "check_certificate_url",
    "default_certificate_fetcher",
    "mapped_certificate_fetcher",
    "string_to_sign",
    "verify_message",
]

_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")

# Message Type -> the fields its signature covers, in signing order.
SIGNED_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "Notification": _NOTIFICATION_FIELDS,
        "SubscriptionConfirmation": _CONFIRMATION_FIELDS,
        "UnsubscribeConfirmation": _CONFIRMATION_FIELDS,
    }
)
# Signed only when present. Lambda-style records carry "Subject": null when there is none.
OPTIONAL_SIGNED_FIELDS = frozenset({"Subject"})

# SignatureVersion -> hash. SHA1 is what SNS uses for version 1; it is the protocol, not our choice.
SIGNATURE_HASHES: Mapping[str, Callable[[], hashes.HashAlgorithm]] = MappingProxyType(
    {"1": hashes.SHA1, "2": hashes.SHA256}
)

# Lambda-style records (and CloudWatch replays of them) spell it SigningCertUrl.
_CERT_URL_KEYS = ("SigningCertURL", "SigningCertUrl")


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The bytes SNS signs for `message`: its signed fields in order, each "Key\\nValue\\n", UTF-8."""
    message_type = message.get("Type")
    fields = SIGNED_FIELDS.get(message_type) if isinstance(message_type, str) else None
    if fields is None:
        raise SignatureError(f"unknown SNS message Type {message_type!r}")
    lines: list[str] = []
    for key in fields:
        value = message.get(key)
        if value is None:
            if key in OPTIONAL_SIGNED_FIELDS:
                continue
            raise SignatureError(f"SNS {message_type} is missing the signed field {key}")
        if not isinstance(value, str):
            raise SignatureError(f"SNS field {key} must be a string, not {type(value).__name__}")
        lines.append(f"{key}\n{value}\n")
    return "".join(lines).encode("utf-8")


def verify_message(
    message: Mapping[str, Any],
    *,
    at: datetime,
    fetch_certificate: CertificateFetcher | None = None,
) -> None:
    """Return if `message` carries a valid SNS signature by a certificate valid at `at`; else raise.

    Everything that can be checked without the network (shape, Type, version, URL rule, base64) is checked
    before the certificate is fetched, so a forged URL never causes a request. Raises `SignatureError`
    (`CertificateUnavailableError`, a subclass, when the certificate could not be obtained: worth a retry).
    """
    if not isinstance(message, Mapping):
        raise SignatureError(f"SNS message must be a JSON object, not {type(message).__name__}")
    data = string_to_sign(message)
    algorithm = _hash_for(message.get("SignatureVersion"))
    signature = _decode_signature(message.get("Signature"))
    cert_url = check_certificate_url(_certificate_url(message))
    certificate = _load_certificate(cert_url, fetch_certificate or default_certificate_fetcher)
    _check_validity(certificate, at)
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SignatureError(f"certificate at {cert_url!r} does not hold an RSA key")
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise SignatureError(
            f"signature does not match the message (SignatureVersion {message.get('SignatureVersion')}, "
            f"certificate {cert_url!r})"
        ) from None


def _hash_for(version: object) -> hashes.HashAlgorithm:
    if version is None:
        raise SignatureError("SNS message is missing SignatureVersion")
    factory = SIGNATURE_HASHES.get(version) if isinstance(version, str) else None
    if factory is None:
        raise SignatureError(f"unsupported SignatureVersion {version!r} (supported: 1, 2)")
    return factory()


def _decode_signature(signature: object) -> bytes:
    if signature is None or signature == "":
        raise SignatureError("SNS message is missing Signature")
    if not isinstance(signature, str):
        raise SignatureError(f"Signature must be a string, not {type(signature).__name__}")
    try:
        # validate=True: stray characters are an error, not silently dropped.
        return base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"Signature is not valid base64: {exc}") from None


def _certificate_url(message: Mapping[str, Any]) -> object:
    present = [message[key] for key in _CERT_URL_KEYS if message.get(key) is not None]
    if not present:
        raise SignatureError("SNS message is missing SigningCertURL")
    if len(present) > 1 and present[0] != present[1]:
        # Two different URLs: whichever we picked, the other reader of this message might pick the other.
        raise SignatureError("SNS message has SigningCertURL and SigningCertUrl with different values")
    return present[0]


def _load_certificate(url: str, fetch: CertificateFetcher) -> x509.Certificate:
    try:
        pem = fetch(url)
    except SignatureError:
        raise
    except Exception as exc:
        # A fetcher is pluggable; whatever it raises means "no certificate", which is transient.
        raise CertificateUnavailableError(f"could not fetch the signing certificate {url!r}: {exc}") from exc
    if not isinstance(pem, bytes):
        raise CertificateUnavailableError(f"certificate fetcher returned {type(pem).__name__} for {url!r}, not bytes")
    try:
        return _parse_pem(pem)
    except ValueError as exc:
        raise SignatureError(f"signing certificate at {url!r} is not a PEM X.509 certificate: {exc}") from None


@functools.lru_cache(maxsize=64)
def _parse_pem(pem: bytes) -> x509.Certificate:
    # Keyed by content, so it is safe whatever fetcher produced the bytes; saves a parse per message.
    return x509.load_pem_x509_certificate(pem)


def _check_validity(certificate: x509.Certificate, at: datetime) -> None:
    moment = as_utc(at)
    if moment < certificate.not_valid_before_utc:
        raise SignatureError(
            f"signing certificate is not yet valid at {moment.isoformat()} "
            f"(valid from {certificate.not_valid_before_utc.isoformat()})"
        )
    if moment > certificate.not_valid_after_utc:
        raise SignatureError(
            f"signing certificate expired at {certificate.not_valid_after_utc.isoformat()} "
            f"(checked at {moment.isoformat()})"
        )
