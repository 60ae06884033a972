"""CloudWatchAlarmSource (ports.AlarmSource) against a moto server over real HTTP, and the DescribeAlarms
items it yields through parse_describe_alarms_item. moto answers DescribeAlarms in one page and cannot create
composite alarms, so paging and composite items are also checked with botocore's Stubber on a real client."""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.cloudwatch import ALARM_TYPES, CloudWatchAlarmSource
from oncall_agent.domain.alarm import AlarmState, EventChannel, MetricSpec
from oncall_agent.domain.time import as_utc
from oncall_agent.intake.parsers import parse_describe_alarms_item
from oncall_agent.ports import AlarmSource

REGION = "eu-north-1"
ALARM_COUNT = 120  # more than DescribeAlarms' 100 per page


@pytest.fixture()
def client_for_region(moto_endpoint: str, aws_env: None) -> Callable[[str], Any]:
    return functools.partial(make_client, "cloudwatch", endpoint_url=moto_endpoint, max_attempts=1)


def put_alarm(client: Any, name: str, index: int) -> None:
    """Every third alarm is metric math over a p99 metric; the others watch one metric."""
    common: dict[str, Any] = {
        "AlarmName": name,
        "EvaluationPeriods": 2,
        "Threshold": float(index),
        "ComparisonOperator": "GreaterThanThreshold",
        "Tags": [{"Key": "service", "Value": f"svc-{index % 4}"}],
    }
    if index % 3 == 0:
        stat = {
            "Metric": {
                "Namespace": "App",
                "MetricName": "Latency",
                "Dimensions": [{"Name": "Api", "Value": "x"}],
            },
            "Period": 60,
            "Stat": "p99",
        }
        queries = [
            {"Id": "m1", "MetricStat": stat, "ReturnData": False},
            {"Id": "e1", "Expression": "m1 / 1000", "ReturnData": True},
        ]
        client.put_metric_alarm(Metrics=queries, **common)
    else:
        client.put_metric_alarm(
            MetricName="CPUUtilization",
            Namespace="AWS/ECS",
            Statistic="Average",
            Period=300,
            Dimensions=[{"Name": "ServiceName", "Value": f"svc-{index % 4}"}],
            **common,
        )


def expected_state(index: int) -> AlarmState:
    if index % 7 == 0:
        return AlarmState.ALARM
    if index % 11 == 0:
        return AlarmState.INSUFFICIENT_DATA
    return AlarmState.OK  # moto's initial state (AWS starts alarms in INSUFFICIENT_DATA)


@pytest.fixture(scope="module")
def seeded(moto_endpoint: str) -> tuple[str, dict[str, tuple[datetime, datetime]]]:
    """ALARM_COUNT alarms under a fresh name prefix (seeded once per module); returns the prefix and, per
    alarm name, the window in which its last state change happened."""
    client = make_client("cloudwatch", REGION, moto_endpoint, 1, access_key_id="testing", secret_access_key="testing")
    prefix = f"contract-{uuid.uuid4().hex[:8]}-"
    windows: dict[str, tuple[datetime, datetime]] = {}
    for index in range(ALARM_COUNT):
        name = f"{prefix}{index:03d}"
        before = datetime.now(UTC)
        put_alarm(client, name, index)
        if expected_state(index) is not AlarmState.OK:
            before = datetime.now(UTC)
            client.set_alarm_state(AlarmName=name, StateValue=expected_state(index).value, StateReason="test")
        windows[name] = (before, datetime.now(UTC))
    return prefix, windows


def test_every_alarm_comes_back_once_and_parses(
    client_for_region: Callable[[str], Any], seeded: tuple[str, dict[str, tuple[datetime, datetime]]]
) -> None:
    prefix, windows = seeded
    source: AlarmSource = CloudWatchAlarmSource(client_for_region)
    items = [item for item in source.describe_alarms(REGION) if item["AlarmName"].startswith(prefix)]

    assert Counter(item["AlarmName"] for item in items) == Counter(windows.keys())
    for item in items:
        event = parse_describe_alarms_item(item, region=REGION)
        index = int(event.alarm_name.removeprefix(prefix))
        assert event.channel is EventChannel.POLL
        assert event.alarm_arn == f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:{event.alarm_name}"
        assert (event.account, event.region) == ("123456789012", REGION)
        assert event.new_state is expected_state(index)
        # moto fills StateUpdatedTimestamp only: that is the field the parser must fall back to.
        assert "StateTransitionedTimestamp" not in item
        assert event.state_timestamp == as_utc(item["StateUpdatedTimestamp"])
        start, end = windows[event.alarm_name]
        slack = timedelta(milliseconds=1)  # moto reports milliseconds
        assert start - slack <= event.state_timestamp <= end + slack
        assert (event.threshold, event.evaluation_periods) == (float(index), 2)
        assert event.tags == {}  # with_tags is off
        if index % 3 == 0:
            latency = MetricSpec(namespace="App", name="Latency", dimensions={"Api": "x"}, stat="p99", period=60)
            assert (event.metric, event.metrics, event.expression) == (latency, [latency], "m1 / 1000")
        else:
            assert event.metric == MetricSpec(
                namespace="AWS/ECS",
                name="CPUUtilization",
                dimensions={"ServiceName": f"svc-{index % 4}"},
                stat="Average",
                period=300,
            )
            assert event.expression is None


def test_moto_answers_describe_alarms_in_a_single_page(
    client_for_region: Callable[[str], Any], seeded: tuple[str, dict[str, tuple[datetime, datetime]]]
) -> None:
    """A pinned moto fact (5.2.x): MaxRecords is ignored and no NextToken is returned, so paging is only
    exercised by the Stubber test below. If this fails after a moto upgrade, moto pages now: good news."""
    client = client_for_region(REGION)
    calls: list[str] = []
    client.meta.events.register("after-call.cloudwatch.DescribeAlarms", lambda **_: calls.append("call"))
    source = CloudWatchAlarmSource(lambda _region: client, page_size=10)
    assert sum(1 for _ in source.describe_alarms(REGION)) >= ALARM_COUNT
    assert len(calls) == 1


def test_with_tags_adds_list_tags_for_resource_result(
    client_for_region: Callable[[str], Any], seeded: tuple[str, dict[str, tuple[datetime, datetime]]]
) -> None:
    prefix, _ = seeded
    source = CloudWatchAlarmSource(client_for_region, with_tags=True)
    items = [item for item in source.describe_alarms(REGION) if item["AlarmName"].startswith(prefix)]
    assert len(items) == ALARM_COUNT
    for item in items:
        index = int(item["AlarmName"].removeprefix(prefix))
        assert item["Tags"] == [{"Key": "service", "Value": f"svc-{index % 4}"}]
        assert parse_describe_alarms_item(item, region=REGION).tags == {"service": f"svc-{index % 4}"}


def test_one_client_per_region_is_built_and_kept(client_for_region: Callable[[str], Any]) -> None:
    built: list[str] = []

    def factory(region: str) -> Any:
        built.append(region)
        return client_for_region(region)

    source = CloudWatchAlarmSource(factory)
    for region in ("ap-south-2", "ap-south-2", "sa-east-1"):
        list(source.describe_alarms(region))
    assert built == ["ap-south-2", "sa-east-1"]


# --- paging and composite alarms: a real client and paginator, responses from botocore's Stubber -----------

T0 = datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)


def metric_item(name: str) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}",
        "StateValue": "ALARM",
        "StateUpdatedTimestamp": T0 + timedelta(minutes=5),
        "StateTransitionedTimestamp": T0,
        "MetricName": "Errors",
        "Namespace": "AWS/Lambda",
        "Statistic": "Sum",
        "Period": 60,
    }


def composite_item(name: str) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}",
        "AlarmRule": "ALARM(a) OR ALARM(b)",
        "StateValue": "OK",
        "StateUpdatedTimestamp": T0 + timedelta(minutes=5),
        "StateTransitionedTimestamp": T0,
    }


def test_pages_are_followed_and_composite_items_yielded(aws_env: None) -> None:
    client = make_client("cloudwatch", "us-east-1", max_attempts=1)
    with Stubber(client) as stub:
        stub.add_response(
            "describe_alarms",
            {
                "MetricAlarms": [metric_item("a"), metric_item("b")],
                "CompositeAlarms": [],
                "NextToken": "page-2",
            },
            {"AlarmTypes": ALARM_TYPES, "MaxRecords": 2},
        )
        stub.add_response(
            "describe_alarms",
            {"MetricAlarms": [metric_item("c")], "CompositeAlarms": [composite_item("svc-down")]},
            {"AlarmTypes": ALARM_TYPES, "MaxRecords": 2, "NextToken": "page-2"},
        )
        items = list(CloudWatchAlarmSource(lambda _region: client, page_size=2).describe_alarms("us-east-1"))
        stub.assert_no_pending_responses()

    assert [item["AlarmName"] for item in items] == ["a", "b", "c", "svc-down"]
    events = [parse_describe_alarms_item(item, region="us-east-1") for item in items]
    assert all(event.state_timestamp == T0 for event in events)  # StateTransitionedTimestamp wins
    composite = events[-1]
    assert composite.is_composite
    assert (composite.composite_rule, composite.metric, composite.new_state) == (
        "ALARM(a) OR ALARM(b)",
        None,
        AlarmState.OK,
    )
    assert events[0].metric == MetricSpec(namespace="AWS/Lambda", name="Errors", stat="Sum", period=60)


def test_page_size_is_bounded_by_the_api_limit() -> None:
    with pytest.raises(ValueError, match="page_size"):
        CloudWatchAlarmSource(lambda _region: None, page_size=101)


def test_make_client_applies_retry_mode_timeouts_and_endpoint(aws_env: None) -> None:
    client = make_client("cloudwatch", "eu-west-1", "http://127.0.0.1:1", 4, connect_timeout=1.5, read_timeout=7.0)
    config = client.meta.config
    assert config.retries["mode"] == "standard"
    assert config.retries["total_max_attempts"] == 4  # the first call included: 3 retries
    assert (config.connect_timeout, config.read_timeout) == (1.5, 7.0)
    assert client.meta.endpoint_url == "http://127.0.0.1:1"
    assert client.meta.region_name == "eu-west-1"
    with pytest.raises(ValueError, match="max_attempts"):
        make_client("cloudwatch", "eu-west-1", max_attempts=0)
