"""Public entry for alarm payload parsing: every CloudWatch alarm payload shape becomes one AlarmEvent.

Import parsers from here; the `parse_*` modules beside it are implementation. All functions are pure (no I/O).
Malformed or unknown payloads raise PayloadError with a message naming the problem; recognised payloads that
carry no state change (EventBridge configuration changes) raise IgnoredEvent (a PayloadError).
"""

from __future__ import annotations

from typing import Any

from oncall_agent.domain.alarm import AlarmEvent
from oncall_agent.domain.errors import PayloadError
from oncall_agent.intake.parse_common import as_obj, show
from oncall_agent.intake.parse_describe import parse_describe_alarms_item
from oncall_agent.intake.parse_eventbridge import (
    CONFIGURATION_CHANGE,
    STATE_CHANGE,
    parse_eventbridge,
    parse_lambda_alarm_action,
)
from oncall_agent.intake.parse_sns import parse_sns_alarm

__all__ = [
    "CONFIGURATION_CHANGE",
    "STATE_CHANGE",
    "parse_describe_alarms_item",
    "parse_eventbridge",
    "parse_lambda_alarm_action",
    "parse_sns_alarm",
    "parse_webhook_payload",
]


def parse_webhook_payload(payload: dict[str, Any]) -> AlarmEvent:
    """What the EventBridge webhook receives: an EventBridge event or a CloudWatch alarm-action payload."""
    body = as_obj(payload, "webhook payload")
    if "detail-type" in body:
        return parse_eventbridge(payload)
    if "alarmData" in body or "alarmArn" in body:
        return parse_lambda_alarm_action(payload)
    keys = ", ".join(sorted(show(str(key), 40) for key in list(body)[:20]))
    raise PayloadError(
        f"unrecognised payload: neither an EventBridge event nor a CloudWatch alarm action (keys: {keys})"
    )
