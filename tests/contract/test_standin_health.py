"""The AWS Health stand-in, exercised only through boto3 (unchanged, via `endpoint_url`): filters, pagination
by the botocore paginator, and errors in the AWS JSON shape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from oncall_agent.sandbox.standins import (
    BackgroundServer,
    FaultInjector,
    HealthEventRecord,
    HealthState,
    create_health_app,
)

pytestmark = pytest.mark.sandbox

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def health() -> Iterator[Any]:
    state = HealthState()
    for minutes in range(1, 26):  # 25 closed EC2 issues, one every ten minutes back from now
        start = NOW - timedelta(minutes=10 * minutes)
        state.add_event(
            HealthEventRecord(
                "EC2",
                "AWS_EC2_OPERATIONAL_ISSUE",
                "issue",
                "us-east-1",
                start,
                "closed",
                f"issue {minutes}",
                "210987654321",
                end=start + timedelta(minutes=5),
            )
        )
    state.add_event(
        HealthEventRecord(
            "RDS",
            "AWS_RDS_MAINTENANCE_SCHEDULED",
            "scheduledChange",
            "us-east-1",
            NOW + timedelta(days=2),
            "upcoming",
            "Maintenance of orders-db",
            "210987654321",
            entities=("orders-db",),
        )
    )
    faults = FaultInjector()
    server = BackgroundServer(create_health_app(state, faults), faults=faults)
    url = server.start()
    try:
        yield boto3.client(
            "health",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}),
        )
    finally:
        server.stop()


def test_paginator_walks_every_event_most_recent_first(health: Any) -> None:
    pages = list(health.get_paginator("describe_events").paginate(PaginationConfig={"PageSize": 10}))
    assert [len(p["events"]) for p in pages] == [10, 10, 6]
    updated = [e["lastUpdatedTime"] for p in pages for e in p["events"]]
    assert updated == sorted(updated, reverse=True)


def test_filters_combine(health: Any) -> None:
    window = {"from": NOW - timedelta(minutes=35), "to": NOW}
    found = health.describe_events(filter={"services": ["EC2"], "startTimes": [window]})["events"]
    assert len(found) == 3 and {e["statusCode"] for e in found} == {"closed"}
    scheduled = health.describe_events(filter={"eventTypeCategories": ["scheduledChange"]})["events"]
    assert [(e["eventTypeCode"], e["statusCode"], e["eventScopeCode"]) for e in scheduled] == [
        ("AWS_RDS_MAINTENANCE_SCHEDULED", "upcoming", "ACCOUNT_SPECIFIC")
    ]
    assert health.describe_events(filter={"regions": ["eu-west-1"]})["events"] == []


def test_details_report_unknown_arns_in_the_failed_set(health: Any) -> None:
    arn = health.describe_events(filter={"services": ["RDS"]})["events"][0]["arn"]
    answer = health.describe_event_details(eventArns=[arn, arn + "-missing"])
    assert [d["eventDescription"]["latestDescription"] for d in answer["successfulSet"]] == ["Maintenance of orders-db"]
    assert [f["eventArn"] for f in answer["failedSet"]] == [arn + "-missing"]


def test_entities_of_an_unknown_event_are_none(health: Any) -> None:
    assert health.describe_affected_entities(filter={"eventArns": ["arn:aws:health:x"]})["entities"] == []


def test_errors_use_the_aws_shape(health: Any) -> None:
    with pytest.raises(ClientError) as caught:
        health.describe_event_aggregates(aggregateField="eventTypeCategory")
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"
    unsigned = requests.post(
        health.meta.endpoint_url,
        data="{}",
        headers={"X-Amz-Target": "AWSHealth_20160804.DescribeEvents"},
        timeout=5,
    )
    assert unsigned.status_code == 400 and unsigned.json()["__type"] == "MissingAuthenticationTokenException"
