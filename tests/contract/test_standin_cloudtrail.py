"""The CloudTrail LookupEvents stand-in, exercised only through boto3 (unchanged, via `endpoint_url`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from oncall_agent.sandbox.standins import (
    BackgroundServer,
    CloudTrailState,
    FaultInjector,
    FaultRule,
    create_cloudtrail_app,
)

pytestmark = pytest.mark.sandbox

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class World:
    state: CloudTrailState
    faults: FaultInjector
    base_url: str

    def client(self, **config: Any) -> Any:
        return boto3.client(
            "cloudtrail",
            endpoint_url=self.base_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(**config),
        )


def seed(state: CloudTrailState) -> None:
    """120 events, one a minute back from now; a security group change at -5m."""
    for i in range(1, 121):
        name = "UpdateService" if i % 2 else "DescribeServices"
        state.add_event(
            f"00000000-0000-0000-0000-{i:012d}",
            name,
            "ecs.amazonaws.com",
            NOW - timedelta(minutes=i),
            "deploy-bot",
            [{"ResourceType": "AWS::ECS::Service", "ResourceName": f"checkout-{i % 3}"}],
            {"cluster": "prod", "service": f"checkout-{i % 3}"},
            read_only=name.startswith("Describe"),
        )
    state.add_event(
        "3f2e1d00-aaaa-bbbb-cccc-000000000001",
        "AuthorizeSecurityGroupIngress",
        "ec2.amazonaws.com",
        NOW - timedelta(minutes=5, seconds=30),
        "alice",
        [{"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": "sg-0abc12"}],
        {"groupId": "sg-0abc12"},
        access_key_id="AKIAALICE0000000000",
    )


@pytest.fixture
def world() -> Iterator[World]:
    state, faults = CloudTrailState(), FaultInjector()
    seed(state)
    server = BackgroundServer(create_cloudtrail_app(state, faults), faults=faults)
    yield World(state, faults, server.start())
    server.stop()


def test_paginator_walks_more_than_fifty_events_newest_first(world: World) -> None:
    pages = list(world.client().get_paginator("lookup_events").paginate(StartTime=NOW - timedelta(hours=3)))
    events = [event for page in pages for event in page["Events"]]

    assert [len(page["Events"]) for page in pages] == [50, 50, 21]
    times = [event["EventTime"] for event in events]
    assert times == sorted(times, reverse=True)
    assert len({event["EventId"] for event in events}) == 121


def test_filter_by_event_name_and_time_window(world: World) -> None:
    response = world.client().lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "UpdateService"}],
        StartTime=NOW - timedelta(minutes=20),
        EndTime=NOW - timedelta(minutes=10),
    )
    events = response["Events"]

    assert [event["EventId"][-2:] for event in events] == ["11", "13", "15", "17", "19"]
    assert all(NOW - timedelta(minutes=20) <= e["EventTime"] <= NOW - timedelta(minutes=10) for e in events)
    assert all(event["ReadOnly"] == "false" for event in events)


def test_filter_by_resource_name_and_the_record_parses(world: World) -> None:
    response = world.client().lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "sg-0abc12"}]
    )
    (event,) = response["Events"]
    record = json.loads(event["CloudTrailEvent"])

    assert event["EventName"] == "AuthorizeSecurityGroupIngress"
    assert event["Username"] == "alice" and event["AccessKeyId"] == "AKIAALICE0000000000"
    assert event["Resources"] == [{"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": "sg-0abc12"}]
    assert event["EventTime"] == NOW - timedelta(minutes=5, seconds=30)
    assert record["eventID"] == event["EventId"]
    assert record["requestParameters"] == {"groupId": "sg-0abc12"}
    assert record["eventType"] == "AwsApiCall" and record["managementEvent"] is True
    assert record["recipientAccountId"] == "123456789012" and record["awsRegion"] == "us-east-1"
    assert record["userIdentity"]["userName"] == "alice"
    assert datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")) == event["EventTime"]


def test_read_only_and_username_attributes(world: World) -> None:
    client = world.client()
    read_only = client.lookup_events(
        LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "true"}], MaxResults=5
    )
    alice = client.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "alice"}])

    assert {event["EventName"] for event in read_only["Events"]} == {"DescribeServices"}
    assert "NextToken" in read_only
    assert [event["EventSource"] for event in alice["Events"]] == ["ec2.amazonaws.com"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"LookupAttributes": [{"AttributeKey": "Colour", "AttributeValue": "x"}]}, "InvalidLookupAttributesException"),
        (
            {
                "LookupAttributes": [
                    {"AttributeKey": "EventName", "AttributeValue": "A"},
                    {"AttributeKey": "Username", "AttributeValue": "B"},
                ]
            },
            "InvalidLookupAttributesException",
        ),
        ({"StartTime": NOW, "EndTime": NOW - timedelta(hours=1)}, "InvalidTimeRangeException"),
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        ({"NextToken": "not-a-token"}, "InvalidNextTokenException"),
    ],
)
def test_bad_input_raises_client_error_with_the_aws_code(world: World, params: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientError) as caught:
        world.client().lookup_events(**params)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unknown_operation(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.client().describe_trails()
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"


def test_delivery_lag_hides_recent_events() -> None:
    # The stand-in's clock is the test's: NOW is fixed at import, and a long suite must not age the events.
    state, faults = CloudTrailState(clock=lambda: NOW, delivery_lag_s=600), FaultInjector()
    seed(state)
    with BackgroundServer(create_cloudtrail_app(state, faults)) as server:
        client = World(state, faults, server.base_url).client()
        events = client.lookup_events(StartTime=NOW - timedelta(minutes=15))["Events"]
    assert min(NOW - event["EventTime"] for event in events) >= timedelta(minutes=10)


def test_injected_503_is_retried_by_botocore(world: World) -> None:
    world.faults.add(FaultRule("POST", "^/$", status=503, times=1))

    response = world.client(retries={"mode": "standard", "max_attempts": 3}).lookup_events(MaxResults=1)

    assert len(response["Events"]) == 1
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert [entry.status for entry in world.faults.requests()] == [503, 200]


def test_injected_throttling_surfaces_without_retries(world: World) -> None:
    world.faults.add(FaultRule("POST", "^/$", status=429, retry_after=1, times=1))

    with pytest.raises(ClientError) as caught:
        world.client(retries={"total_max_attempts": 1}).lookup_events(MaxResults=1)

    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert world.client(retries={"total_max_attempts": 1}).lookup_events(MaxResults=1)["Events"]


def test_timeout_rule_trips_the_read_timeout(world: World) -> None:
    world.faults.add(FaultRule(None, "^/$", timeout=True, times=1))

    with pytest.raises(ReadTimeoutError):
        world.client(read_timeout=0.5, retries={"total_max_attempts": 1}).lookup_events(MaxResults=1)
    assert world.faults.count("POST") == 1
