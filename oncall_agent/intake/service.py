"""Intake use cases: authenticate an inbound alarm delivery, parse it, persist it once, wake the grouper.

Transport-agnostic: the web layer turns the exceptions raised here into HTTP answers. Order matters for safety
and cost: cheap checks (topic allow-list, shared secret) run before signature verification (which may fetch a
certificate), and nothing is stored unless every check passed.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from oncall_agent.domain.errors import OncallAgentError, PayloadError
from oncall_agent.intake.parse_common import show
from oncall_agent.intake.parsers import parse_sns_alarm, parse_webhook_payload
from oncall_agent.ports import AppendResult, IncidentStore

SnsVerifier = Callable[[dict[str, Any], datetime], None]


class TopicNotAllowed(OncallAgentError):
    """The SNS message comes from a topic that is not on the allow-list."""


class Unauthenticated(OncallAgentError):
    """The request carries no valid credential for its channel."""


class Outcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    SUBSCRIPTION_PENDING = "subscription_confirmation_accepted"


@dataclass(frozen=True)
class IntakeResult:
    outcome: Outcome
    event_id: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class SubscriptionRequest:
    topic_arn: str
    token: str


SNS_TYPES = frozenset({"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"})


class IntakeService:
    def __init__(
        self,
        store: IncidentStore,
        verify_sns: SnsVerifier,
        allowed_topics: frozenset[str],
        eventbridge_secret: str | None,
        now: Callable[[], datetime],
        on_stored: Callable[[], None] = lambda: None,
        on_subscription: Callable[[SubscriptionRequest], None] = lambda _request: None,
    ) -> None:
        self._store = store
        self._verify_sns = verify_sns
        self._allowed_topics = allowed_topics
        self._eventbridge_secret = eventbridge_secret
        self._now = now
        self._on_stored = on_stored
        self._on_subscription = on_subscription

    def accept_sns(self, message: dict[str, Any], header_type: str | None, header_topic: str | None) -> IntakeResult:
        """Handle one SNS HTTP delivery (already JSON-decoded)."""
        kind = message.get("Type")
        if not isinstance(kind, str) or kind not in SNS_TYPES:
            raise PayloadError(f"unknown SNS message Type {show(kind)}")
        if header_type is not None and header_type != kind:
            raise PayloadError(f"x-amz-sns-message-type {header_type!r} does not match Type {kind!r}")
        topic = message.get("TopicArn")
        if not isinstance(topic, str) or not topic:
            raise PayloadError("SNS message has no TopicArn")
        if header_topic is not None and header_topic != topic:
            raise PayloadError("x-amz-sns-topic-arn does not match TopicArn")
        if topic not in self._allowed_topics:
            raise TopicNotAllowed(f"topic {topic} is not in intake.sns.allowed_topic_arns")
        self._verify_sns(message, self._now())
        if kind == "SubscriptionConfirmation":
            token = message.get("Token")
            if not isinstance(token, str) or not token:
                raise PayloadError("SubscriptionConfirmation has no Token")
            self._on_subscription(SubscriptionRequest(topic_arn=topic, token=token))
            return IntakeResult(Outcome.SUBSCRIPTION_PENDING, detail=topic)
        if kind == "UnsubscribeConfirmation":
            return IntakeResult(Outcome.IGNORED, detail="unsubscribe confirmation")
        return self._append(parse_sns_alarm(message))

    def authenticate_eventbridge(self, presented: str | None) -> None:
        """Constant-time comparison of the API destination's shared secret."""
        if not self._eventbridge_secret:
            raise Unauthenticated("EventBridge intake is disabled: intake.eventbridge.secret is not set")
        if presented is None or not hmac.compare_digest(
            presented.encode("utf-8"), self._eventbridge_secret.encode("utf-8")
        ):
            raise Unauthenticated("missing or wrong EventBridge shared secret")

    def accept_eventbridge(self, payload: dict[str, Any]) -> IntakeResult:
        """Handle one EventBridge API-destination delivery (authenticate first)."""
        return self._append(parse_webhook_payload(payload))

    def _append(self, event: Any) -> IntakeResult:
        result: AppendResult = self._store.append_event(event)
        if result.duplicate:
            return IntakeResult(Outcome.DUPLICATE, result.event_id)
        self._on_stored()
        return IntakeResult(Outcome.STORED, result.event_id)
