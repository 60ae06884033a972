"""Alarm events: one normalised shape for every channel (poll, SNS, EventBridge) and their dedup keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from oncall_agent.domain.time import as_utc, millis_key


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class EventChannel(StrEnum):
    POLL = "poll"
    SNS = "sns"
    EVENTBRIDGE = "eventbridge"


class MetricSpec(BaseModel):
    """The metric an alarm watches (for metric-math alarms: the first metric the expression reads)."""

    model_config = ConfigDict(frozen=True)

    namespace: str
    name: str
    dimensions: dict[str, str] = Field(default_factory=dict)
    stat: str | None = None
    period: int | None = None


class AlarmEvent(BaseModel):
    """A state change of one CloudWatch alarm, as received from any channel.

    `raw` keeps the original payload (untrusted) for audit and for the investigation.
    """

    model_config = ConfigDict(frozen=True)

    channel: EventChannel
    channel_message_id: str | None = None
    account: str | None = None
    region: str
    alarm_arn: str
    alarm_name: str
    new_state: AlarmState
    old_state: AlarmState | None = None
    reason: str = ""
    state_timestamp: datetime
    description: str | None = None
    metric: MetricSpec | None = None
    metrics: list[MetricSpec] = Field(default_factory=list)
    expression: str | None = None
    threshold: float | None = None
    comparison: str | None = None
    evaluation_periods: int | None = None
    composite_rule: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    raw: dict[str, Any] = Field(default_factory=dict)

    @field_validator("state_timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @property
    def is_composite(self) -> bool:
        return self.composite_rule is not None

    def state_key(self) -> str:
        """Identifies this state change whatever channel reported it."""
        return f"state:{self.alarm_arn}:{self.new_state.value}:{millis_key(self.state_timestamp)}"

    def dedup_keys(self) -> list[str]:
        """Every key under which this event must be unique: its channel message id and its state change."""
        keys = [self.state_key()]
        if self.channel_message_id:
            keys.append(f"msg:{self.channel.value}:{self.channel_message_id}")
        return keys
