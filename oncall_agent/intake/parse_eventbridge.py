"""CloudWatch alarm state changes as EventBridge events and as Lambda alarm-action payloads -> AlarmEvent.
Both carry the same `alarmName/state/previousState/configuration` block. Pure, no I/O."""

from __future__ import annotations

import json
from typing import Any

from oncall_agent.domain.alarm import AlarmEvent, EventChannel
from oncall_agent.domain.errors import IgnoredEvent, PayloadError
from oncall_agent.intake.parse_common import (
    Obj,
    as_obj,
    guarded,
    opt_obj,
    opt_state,
    opt_str,
    parse_alarm_arn,
    req_obj,
    req_state,
    req_str,
    req_time,
    show,
)
from oncall_agent.intake.parse_metrics import camel_shape

STATE_CHANGE = "CloudWatch Alarm State Change"
CONFIGURATION_CHANGE = "CloudWatch Alarm Configuration Change"
_SOURCE = "aws.cloudwatch"


def _reason_threshold(state: Obj) -> float | None:
    """`threshold` from the `reasonData` JSON string, when it is there (absent for anomaly and composite
    alarms). reasonData is informational, so a malformed one is ignored rather than rejecting the event."""
    text = state.get("reasonData")
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    value = data.get("threshold") if isinstance(data, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _event_from_alarm_data(
    data: Obj,
    where: str,
    *,
    message_id: str | None,
    account: str,
    region: str,
    arn: str,
    raw: Obj,
) -> AlarmEvent:
    """Build the event from an EventBridge `detail` / Lambda action `alarmData` block."""
    state = req_obj(data, "state", where)
    previous = opt_obj(data, "previousState", where)
    configuration = req_obj(data, "configuration", where)
    shape = camel_shape(configuration, f"{where}.configuration", _reason_threshold(state))
    return AlarmEvent(
        channel=EventChannel.EVENTBRIDGE,
        channel_message_id=message_id,
        account=account,
        region=region,
        alarm_arn=arn,
        alarm_name=req_str(data, "alarmName", where),
        new_state=req_state(state, "value", f"{where}.state"),
        old_state=opt_state(previous, "value", f"{where}.previousState") if previous else None,
        reason=opt_str(state, "reason", f"{where}.state") or "",
        state_timestamp=req_time(state, "timestamp", f"{where}.state"),
        description=opt_str(configuration, "description", f"{where}.configuration"),
        raw=dict(raw),
        **shape.event_fields(),
    )


def _check_source(payload: Obj, what: str) -> None:
    source = req_str(payload, "source", what)
    if source != _SOURCE:
        raise PayloadError(f"{what} source is {show(source)}, not '{_SOURCE}'")


@guarded("EventBridge alarm event")
def parse_eventbridge(event: dict[str, Any]) -> AlarmEvent:
    """A "CloudWatch Alarm State Change" event. Configuration changes raise IgnoredEvent."""
    what = "EventBridge event"
    envelope = as_obj(event, what)
    _check_source(envelope, what)
    detail_type = req_str(envelope, "detail-type", what)
    if detail_type == CONFIGURATION_CHANGE:
        raise IgnoredEvent(f"EventBridge '{CONFIGURATION_CHANGE}' carries no alarm state change")
    if detail_type != STATE_CHANGE:
        raise PayloadError(f"EventBridge detail-type {show(detail_type)} is not '{STATE_CHANGE}'")
    # Some published samples (aws-lambda-rust-runtime) put the block under `alarmData` instead of `detail`.
    key = "detail" if "detail" in envelope or "alarmData" not in envelope else "alarmData"
    resources = envelope.get("resources")
    if not isinstance(resources, list) or not resources or not isinstance(resources[0], str):
        raise PayloadError("EventBridge event field 'resources' does not start with the alarm ARN")
    return _event_from_alarm_data(
        req_obj(envelope, key, what),
        f"EventBridge {key}",
        message_id=req_str(envelope, "id", what),
        account=req_str(envelope, "account", what),
        region=req_str(envelope, "region", what),
        arn=parse_alarm_arn(resources[0], "EventBridge event field 'resources[0]'").arn,
        raw=envelope,
    )


@guarded("CloudWatch alarm action payload")
def parse_lambda_alarm_action(payload: dict[str, Any]) -> AlarmEvent:
    """The CloudWatch -> Lambda alarm action payload (`alarmArn`, `accountId`, `region`, `alarmData`).

    It has no message id. An EventBridge envelope around `alarmData` (a published sample's quirk) is parsed as
    the EventBridge event it is.
    """
    what = "alarm action payload"
    body = as_obj(payload, what)
    if "detail-type" in body and "alarmArn" not in body:
        return parse_eventbridge(payload)
    _check_source(body, what)
    return _event_from_alarm_data(
        req_obj(body, "alarmData", what),
        "alarmData",
        message_id=None,
        account=req_str(body, "accountId", what),
        region=req_str(body, "region", what),
        arn=parse_alarm_arn(req_str(body, "alarmArn", what), "alarm action payload field 'alarmArn'").arn,
        raw=body,
    )
