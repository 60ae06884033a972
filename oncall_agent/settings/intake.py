"""Settings: inbound channels (SNS, EventBridge), the HTTP server and the store."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, field_validator

from oncall_agent.settings.base import TOPIC_ARN, Section


class SnsIntakeSettings(Section):
    allowed_topic_arns: list[str] = Field(default_factory=list)
    confirm_subscriptions: bool = True
    # The sandbox seam: official certificate URL -> where to read that certificate (file:// or loopback http).
    # The message's SigningCertURL must still pass every URL rule; this only says where its PEM lives.
    certificate_sources: dict[str, str] = Field(default_factory=dict)
    # A notification whose state change is older than this (a replayed or long-delayed message) is stored but
    # opens or reopens an incident only if DescribeAlarms shows the alarm still in that state.
    max_event_age: timedelta = Field(default=timedelta(hours=1), gt=timedelta(0))

    @field_validator("allowed_topic_arns")
    @classmethod
    def _arns(cls, arns: list[str]) -> list[str]:
        bad = [a for a in arns if not TOPIC_ARN.match(a)]
        if bad:
            raise ValueError(f"not an SNS topic ARN: {', '.join(bad)}")
        return arns


class EventBridgeIntakeSettings(Section):
    secret: SecretStr | None = None
    header: str = "x-oncall-agent-secret"


class IntakeSettings(Section):
    sns: SnsIntakeSettings = Field(default_factory=SnsIntakeSettings)
    eventbridge: EventBridgeIntakeSettings = Field(default_factory=EventBridgeIntakeSettings)
    max_body_bytes: int = Field(default=256 * 1024 + 16 * 1024, ge=1024, le=10 * 1024 * 1024)
    grouping_window_seconds: float = Field(default=600.0, ge=0, le=86400)
    grouping_interval_seconds: float = Field(default=0.5, gt=0, le=60)


class HttpSettings(Section):
    host: str = "0.0.0.0"  # noqa: S104 - a container listens on all interfaces behind the ALB
    port: int = Field(default=8080, ge=0, le=65535)
    # A request body must arrive within this time (408 otherwise): a client trickling bytes holds no worker.
    body_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Connections and in-flight requests at once; beyond it uvicorn answers 503 (SNS and EventBridge retry).
    limit_concurrency: int = Field(default=200, ge=1, le=100_000)
    # Above the ALB's 60 s idle timeout, so the ALB never reuses a connection we are closing (a 502 otherwise).
    timeout_keep_alive: int = Field(default=75, ge=1, le=3600)
    # Largest request line plus headers (h11); larger answers 431.
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)


class StoreSettings(Section):
    url: str = "sqlite:///data/oncall-agent.db"
    # How long a write waits for a lock before failing; intake then answers 503 and SNS retries.
    lock_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite:///, postgresql:// or postgresql+psycopg://")
        return url
