"""SNS Notification carrying a CloudWatch alarm (the `Message` JSON string) -> AlarmEvent. Pure, no I/O;
the signature is verified elsewhere before this runs."""

from __future__ import annotations

from typing import Any

from oncall_agent.domain.alarm import AlarmEvent, EventChannel
from oncall_agent.domain.errors import PayloadError
from oncall_agent.intake.parse_common import (
    AlarmArn,
    Obj,
    as_obj,
    guarded,
    load_json_object,
    opt_state,
    opt_str,
    parse_alarm_arn,
    parse_topic_arn,
    req_obj,
    req_state,
    req_str,
    req_time,
    show,
)
from oncall_agent.intake.parse_metrics import AlarmShape, pascal_shape

_ENVELOPE = "SNS message"
_ALARM = "alarm payload"


def _alarm_body(envelope: Obj) -> Obj:
    kind = req_str(envelope, "Type", _ENVELOPE)
    if kind != "Notification":
        raise PayloadError(f"SNS message Type is {show(kind)}, not 'Notification'")
    text = envelope.get("Message")
    if not isinstance(text, str):
        raise PayloadError("SNS message field 'Message' is missing or not a string")
    body = load_json_object(text, "SNS Message")
    if "AlarmName" not in body and "NewStateValue" not in body:
        raise PayloadError("SNS Message is not a CloudWatch alarm notification (no AlarmName, NewStateValue)")
    return body


def _alarm_arn(body: Obj, envelope: Obj, name: str) -> AlarmArn:
    """The alarm ARN; older notifications lack `AlarmArn` (and `Region` is a display name such as
    "US East (N. Virginia)"), so build it from the topic's region: alarm actions notify same-region topics."""
    arn = opt_str(body, "AlarmArn", _ALARM)
    if arn is not None:
        return parse_alarm_arn(arn, "alarm payload field 'AlarmArn'")
    topic = req_str(envelope, "TopicArn", _ENVELOPE)
    partition, region = parse_topic_arn(topic, "SNS message field 'TopicArn'")
    account = req_str(body, "AWSAccountId", _ALARM)
    return parse_alarm_arn(f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}", "built alarm ARN")


def _shape(body: Obj) -> AlarmShape:
    rule = opt_str(body, "AlarmRule", _ALARM)
    if rule is not None:
        return AlarmShape(composite_rule=rule)
    return pascal_shape(req_obj(body, "Trigger", _ALARM), "alarm payload Trigger")


@guarded("SNS alarm notification")
def parse_sns_alarm(message: dict[str, Any]) -> AlarmEvent:
    """An SNS Notification (HTTP body, or the `Sns` object of a Lambda SNS record) -> AlarmEvent."""
    envelope = as_obj(message, _ENVELOPE)
    body = _alarm_body(envelope)
    name = req_str(body, "AlarmName", _ALARM)
    arn = _alarm_arn(body, envelope, name)
    return AlarmEvent(
        channel=EventChannel.SNS,
        channel_message_id=req_str(envelope, "MessageId", _ENVELOPE),
        account=opt_str(body, "AWSAccountId", _ALARM) or arn.account,
        region=arn.region,
        alarm_arn=arn.arn,
        alarm_name=name,
        new_state=req_state(body, "NewStateValue", _ALARM),
        old_state=opt_state(body, "OldStateValue", _ALARM),
        reason=opt_str(body, "NewStateReason", _ALARM) or "",
        state_timestamp=req_time(body, "StateChangeTime", _ALARM),
        description=opt_str(body, "AlarmDescription", _ALARM),
        raw=dict(envelope),
        **_shape(body).event_fields(),
    )
