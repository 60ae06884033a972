"""AlarmEvent dedup keys and the timestamp rules they depend on; content-addressed evidence ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from oncall_agent.domain.alarm import AlarmEvent, AlarmState, EventChannel
from oncall_agent.domain.evidence import Evidence, EvidenceKind
from oncall_agent.domain.time import millis_key, parse_aws_timestamp

ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-5xx"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-11-10T02:45:55.640+0000", datetime(2021, 11, 10, 2, 45, 55, 640000, tzinfo=UTC)),
        ("2019-10-02T17:20:48Z", datetime(2019, 10, 2, 17, 20, 48, tzinfo=UTC)),
        ("2022-07-28T21:23:58.317Z", datetime(2022, 7, 28, 21, 23, 58, 317000, tzinfo=UTC)),
        ("2022-07-28T23:23:58.317+02:00", datetime(2022, 7, 28, 21, 23, 58, 317000, tzinfo=UTC)),
        ("2024-02-17T11:53:08.431-0130", datetime(2024, 2, 17, 13, 23, 8, 431000, tzinfo=UTC)),
    ],
)
def test_aws_timestamp_shapes_parse_to_utc(text: str, expected: datetime) -> None:
    assert parse_aws_timestamp(text) == expected
    assert parse_aws_timestamp(text).tzinfo is not None


def test_millis_key_ignores_sub_millisecond_precision_and_zone() -> None:
    a = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    b = datetime(2026, 1, 1, 13, 0, 0, 123999, tzinfo=timezone(timedelta(hours=1)))
    assert millis_key(a) == millis_key(b) == "2026-01-01T12:00:00.123Z"


def event(channel: EventChannel, message_id: str | None, when: datetime, state: AlarmState) -> AlarmEvent:
    return AlarmEvent(
        channel=channel,
        channel_message_id=message_id,
        region="us-east-1",
        alarm_arn=ARN,
        alarm_name="checkout-5xx",
        new_state=state,
        state_timestamp=when,
    )


def test_same_state_change_from_two_channels_shares_its_state_key() -> None:
    when = datetime(2026, 11, 24, 10, 0, 0, 500000, tzinfo=UTC)
    sns = event(EventChannel.SNS, "m-1", when, AlarmState.ALARM)
    poll = event(EventChannel.POLL, None, when + timedelta(microseconds=300), AlarmState.ALARM)
    assert sns.state_key() == poll.state_key()
    assert set(poll.dedup_keys()) < set(sns.dedup_keys())
    assert "msg:sns:m-1" in sns.dedup_keys()


def test_a_different_state_or_time_is_a_different_event() -> None:
    when = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    base = event(EventChannel.POLL, None, when, AlarmState.ALARM)
    assert base.state_key() != event(EventChannel.POLL, None, when, AlarmState.OK).state_key()
    later = event(EventChannel.POLL, None, when + timedelta(milliseconds=1), AlarmState.ALARM)
    assert base.state_key() != later.state_key()


def test_naive_timestamps_are_taken_as_utc() -> None:
    naive = event(EventChannel.POLL, None, datetime(2026, 1, 1, 0, 0), AlarmState.OK)
    assert naive.state_timestamp.tzinfo is not None


def test_evidence_id_is_content_addressed() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    one = Evidence(
        kind=EvidenceKind.DEPLOY,
        source="ecs",
        at=at,
        entity="checkout:42",
        summary="deploy",
        details={"previous": "checkout:41"},
    )
    same = Evidence(
        kind=EvidenceKind.DEPLOY,
        source="ecs",
        at=at,
        entity="checkout:42",
        summary="other words",
        details={"previous": "checkout:41"},
    )
    other = Evidence(
        kind=EvidenceKind.DEPLOY,
        source="ecs",
        at=at,
        entity="checkout:43",
        summary="deploy",
        details={"previous": "checkout:41"},
    )
    assert one.id == same.id
    assert one.id != other.id
    assert one.id.startswith("ev-")
