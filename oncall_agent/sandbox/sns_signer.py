"""Sign SNS HTTP messages the way SNS does, with a throwaway key, so the sandbox can feed the real verifier.

moto signs deliveries without `Subject` in the string to sign (STACK-NOTES), so its messages cannot pass the
AWS-exact verifier. This signer produces bodies that do, using the verifier's own `string_to_sign` and hash
table: the two sides cannot drift. The certificate is self-signed and lives only in memory; the sandbox hands
its PEM to `mapped_certificate_fetcher` under the official-looking URL from `certificate_url`.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from oncall_agent.domain.time import millis_key
from oncall_agent.intake.sns import SIGNATURE_HASHES, string_to_sign

_CERT_LIFETIME_BEFORE = timedelta(days=1)
_CERT_LIFETIME_AFTER = timedelta(days=30)


class SnsSigner:
    """An in-memory RSA-2048 key and self-signed `CN=sns.amazonaws.com` certificate that signs SNS bodies."""

    def __init__(self, *, now: datetime | None = None) -> None:
        issued = now or datetime.now(UTC)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(issued - _CERT_LIFETIME_BEFORE)
            .not_valid_after(issued + _CERT_LIFETIME_AFTER)
            .sign(self._key, hashes.SHA256())
        )
        self.certificate_pem: bytes = certificate.public_bytes(serialization.Encoding.PEM)
        # Named after the certificate, as AWS does, so two signers never claim the same URL.
        der = certificate.public_bytes(serialization.Encoding.DER)
        self._cert_id = "sandbox" + hashlib.sha256(der).hexdigest()[:16]

    def certificate_url(self, region: str, *, partition_suffix: str = "") -> str:
        """The `SigningCertURL` this signer's messages carry for `region` (suffix ".cn" for China)."""
        return f"{_endpoint(region, partition_suffix)}/SimpleNotificationService-{self._cert_id}.pem"

    def notification(
        self,
        topic_arn: str,
        message: str,
        *,
        subject: str | None = None,
        message_id: str | None = None,
        timestamp: datetime | None = None,
        signature_version: str = "1",
        subscription_arn: str | None = None,
    ) -> dict[str, Any]:
        """A signed `Notification` body as SNS POSTs it to an HTTP(S) subscriber."""
        region, suffix = _region_of(topic_arn)
        # One endpoint has one subscription per topic, so every message repeats the same UnsubscribeURL.
        subscription = subscription_arn or f"{topic_arn}:{uuid.uuid5(uuid.NAMESPACE_URL, self._cert_id + topic_arn)}"
        body: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": message_id or str(uuid.uuid4()),
            "TopicArn": topic_arn,
        }
        if subject is not None:
            body["Subject"] = subject
        body["Message"] = message
        body["Timestamp"] = millis_key(timestamp or datetime.now(UTC))
        self._sign(body, signature_version, region, suffix)
        body["UnsubscribeURL"] = f"{_endpoint(region, suffix)}/?Action=Unsubscribe&SubscriptionArn={subscription}"
        return body

    def subscription_confirmation(
        self,
        topic_arn: str,
        token: str,
        *,
        message_id: str | None = None,
        timestamp: datetime | None = None,
        signature_version: str = "1",
    ) -> dict[str, Any]:
        """A signed `SubscriptionConfirmation` body, with the `SubscribeURL` SNS would send."""
        region, suffix = _region_of(topic_arn)
        body: dict[str, Any] = {
            "Type": "SubscriptionConfirmation",
            "MessageId": message_id or str(uuid.uuid4()),
            "Token": token,
            "TopicArn": topic_arn,
            "Message": (
                f"You have chosen to subscribe to the topic {topic_arn}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message."
            ),
            "SubscribeURL": (
                f"{_endpoint(region, suffix)}/?Action=ConfirmSubscription"
                f"&TopicArn={topic_arn}&Token={quote(token, safe='')}"
            ),
            "Timestamp": millis_key(timestamp or datetime.now(UTC)),
        }
        self._sign(body, signature_version, region, suffix)
        return body

    def _sign(self, body: dict[str, Any], signature_version: str, region: str, suffix: str) -> None:
        factory = SIGNATURE_HASHES.get(signature_version)
        if factory is None:
            raise ValueError(f"unsupported SignatureVersion {signature_version!r}")
        signature = self._key.sign(string_to_sign(body), padding.PKCS1v15(), factory())
        body["SignatureVersion"] = signature_version
        body["Signature"] = base64.b64encode(signature).decode("ascii")
        body["SigningCertURL"] = self.certificate_url(region, partition_suffix=suffix)


def _region_of(topic_arn: str) -> tuple[str, str]:
    """Region and host suffix ("" or ".cn") for `arn:<partition>:sns:<region>:<account>:<topic>`."""
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns" or not parts[3] or not parts[5]:
        raise ValueError(f"not an SNS topic ARN: {topic_arn!r}")
    return parts[3], (".cn" if parts[1] == "aws-cn" else "")


def _endpoint(region: str, suffix: str) -> str:
    return f"https://sns.{region}.amazonaws.com{suffix}"
