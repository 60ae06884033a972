"""One DescribeAlarms item (MetricAlarms or CompositeAlarms, as boto3 returns it) -> AlarmEvent for the
poller. Pure, no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from oncall_agent.domain.alarm import AlarmEvent, EventChannel
from oncall_agent.domain.errors import PayloadError
from oncall_agent.intake.parse_common import (
    Obj,
    as_obj,
    guarded,
    opt_list,
    opt_str,
    parse_alarm_arn,
    req_state,
    req_str,
    req_time,
    show,
)
from oncall_agent.intake.parse_metrics import AlarmShape, pascal_shape

_ITEM = "DescribeAlarms item"


def _state_timestamp(item: Obj) -> datetime:
    """When the alarm entered its current state.

    This must be the same instant SNS (`StateChangeTime`) and EventBridge (`state.timestamp`) report, or
    the (ARN, state, timestamp) dedup key will not match across channels. `StateUpdatedTimestamp` also moves
    when only the reason is refreshed without a transition; `StateTransitionedTimestamp` is the last real
    transition, so it wins when present. (moto fills only StateUpdatedTimestamp.)
    """
    if item.get("StateTransitionedTimestamp") is not None:
        return req_time(item, "StateTransitionedTimestamp", _ITEM)
    return req_time(item, "StateUpdatedTimestamp", _ITEM)


def _tags(item: Obj) -> dict[str, str]:
    """`Tags` as list_tags_for_resource returns them ([{Key, Value}]), when the adapter added them."""
    tags: dict[str, str] = {}
    for index, raw in enumerate(opt_list(item, "Tags", _ITEM)):
        tag = as_obj(raw, f"{_ITEM} Tags[{index}]")
        key, value = tag.get("Key"), tag.get("Value")
        if not isinstance(key, str) or not isinstance(value, str):
            raise PayloadError(f"{_ITEM} Tags[{index}] is not a {{Key, Value}} tag: {show(raw)}")
        tags[key] = value
    return tags


@guarded(_ITEM)
def parse_describe_alarms_item(item: dict[str, Any], *, region: str) -> AlarmEvent:
    """A MetricAlarms or CompositeAlarms item (composite ones carry `AlarmRule`), polled from `region`."""
    body = as_obj(item, _ITEM)
    arn = parse_alarm_arn(req_str(body, "AlarmArn", _ITEM), f"{_ITEM} field 'AlarmArn'")
    rule = opt_str(body, "AlarmRule", _ITEM)
    shape = AlarmShape(composite_rule=rule) if rule is not None else pascal_shape(body, _ITEM)
    return AlarmEvent(
        channel=EventChannel.POLL,
        account=arn.account,
        region=region,
        alarm_arn=arn.arn,
        alarm_name=req_str(body, "AlarmName", _ITEM),
        new_state=req_state(body, "StateValue", _ITEM),
        reason=opt_str(body, "StateReason", _ITEM) or "",
        state_timestamp=_state_timestamp(body),
        description=opt_str(body, "AlarmDescription", _ITEM),
        tags=_tags(body),
        raw=dict(body),
        **shape.event_fields(),
    )
