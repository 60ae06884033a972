"""API-call and scan budgets in the real adapters, against real servers (moto, the CloudTrail, GitHub and
ServiceNow stand-ins): every request is charged before it is sent, a refused request is never sent, and the
paging adapters keep what they read before the budget ran out."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.cloudtrail import CloudTrailChangeHistory
from oncall_agent.adapters.aws.cloudwatch import CloudWatchAlarmSource
from oncall_agent.adapters.aws.logs import LogScanBudgetExceeded, LogsInsightsSearch
from oncall_agent.adapters.github import GitHubTracker
from oncall_agent.adapters.servicenow import ServiceNowTracker
from oncall_agent.domain.budget import CallBudgetExceeded, CallMeter, metered
from oncall_agent.sandbox.standins import (
    BackgroundServer,
    CloudTrailState,
    FaultInjector,
    GitHubState,
    ServiceNowState,
    create_cloudtrail_app,
    create_github_app,
    create_servicenow_app,
)

pytestmark = pytest.mark.sandbox

NOW = datetime.now(UTC).replace(microsecond=0)
KEYS = {"access_key_id": "testing", "secret_access_key": "testing", "max_attempts": 1}


def served(app: Any, faults: FaultInjector) -> Iterator[str]:
    server = BackgroundServer(app, faults=faults)
    yield server.start()
    server.stop()


# --- boto3 (moto) ---------------------------------------------------------------------------------------------


def test_every_boto3_request_is_charged_and_one_past_the_budget_is_not_sent(moto_endpoint: str) -> None:
    cloudwatch = make_client("cloudwatch", "eu-north-1", moto_endpoint, **KEYS)  # type: ignore[arg-type]
    cloudwatch.describe_alarms()  # outside a meter: nothing counts, nothing is refused
    with metered(CallMeter("alarms", limit=2)) as meter:
        cloudwatch.describe_alarms()
        cloudwatch.list_metrics()
        with pytest.raises(CallBudgetExceeded, match=r"alarms: API-call budget of 2 used up; cloudwatch\.Descr"):
            cloudwatch.describe_alarms()
    assert meter.calls == {"cloudwatch.DescribeAlarms": 1, "cloudwatch.ListMetrics": 1}
    assert meter.refused == 1
    cloudwatch.describe_alarms()  # the meter is gone with its context


def test_alarm_tags_past_the_budget_are_left_out_alarms_in_alarm_first(moto_endpoint: str) -> None:
    region = "eu-south-1"  # a region no other test writes alarms to (moto's state is per process)
    cloudwatch = make_client("cloudwatch", region, moto_endpoint, **KEYS)  # type: ignore[arg-type]
    for index in range(4):
        cloudwatch.put_metric_alarm(
            AlarmName=f"budget-alarm-{index}",
            Namespace="Acme",
            MetricName="Errors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
            Tags=[{"Key": "service", "Value": f"svc-{index}"}],
        )
    for index in (1, 3):
        cloudwatch.set_alarm_state(AlarmName=f"budget-alarm-{index}", StateValue="ALARM", StateReason="test")
    source = CloudWatchAlarmSource(lambda _: cloudwatch, with_tags=True)

    with metered(CallMeter("alarms", limit=3)) as meter:  # one DescribeAlarms page + two tag lookups
        snapshots = source.snapshots(region)

    assert sorted(s.name for s in snapshots) == [f"budget-alarm-{i}" for i in range(4)]
    tagged = {s.name: s.tags.get("service") for s in snapshots}
    assert tagged == {
        "budget-alarm-0": None,
        "budget-alarm-1": "svc-1",
        "budget-alarm-2": None,
        "budget-alarm-3": "svc-3",
    }
    assert meter.total == 3 and meter.refused == 1


def test_a_logs_query_scanning_past_its_byte_budget_is_stopped() -> None:
    """Wire format with botocore's Stubber: moto finishes every query at once and reports no scanned bytes."""
    client = make_client("logs", "us-east-1", "https://logs.invalid", **KEYS)  # type: ignore[arg-type]
    running = {"status": "Running", "results": [], "statistics": {"bytesScanned": 6.0e9, "recordsScanned": 1.0}}
    with Stubber(client) as stub:
        stub.add_response("start_query", {"queryId": "q-7"})
        stub.add_response("get_query_results", running, {"queryId": "q-7"})
        stub.add_response("stop_query", {"success": True}, {"queryId": "q-7"})
        search = LogsInsightsSearch(lambda _: client, 0.01, 5.0, sleep=lambda _: None)
        with pytest.raises(LogScanBudgetExceeded, match="6,000,000,000 bytes scanned, budget 5,000,000,000"):
            search.sample("us-east-1", ["/g"], NOW - timedelta(hours=1), NOW, 100, max_bytes=5e9)
        stub.assert_no_pending_responses()


# --- CloudTrail stand-in --------------------------------------------------------------------------------------


@pytest.fixture
def trail() -> Iterator[str]:
    state, faults = CloudTrailState(), FaultInjector()
    for minute in range(1, 121):  # 120 configuration writes: three LookupEvents pages of 50
        state.add_event(
            f"00000000-0000-0000-0000-{minute:012d}",
            "PutParameter",
            "ssm.amazonaws.com",
            NOW - timedelta(minutes=minute),
            "deploy-bot",
            [{"ResourceType": "AWS::SSM::Parameter", "ResourceName": f"/app/flag-{minute}"}],
            {"name": f"/app/flag-{minute}"},
        )
    yield from served(create_cloudtrail_app(state, faults), faults)


def test_changes_cut_by_the_budget_keep_the_newest_pages(trail: str) -> None:
    factory = functools.partial(make_client, "cloudtrail", endpoint_url=trail, **KEYS)
    history = CloudTrailChangeHistory(factory)

    with metered(CallMeter("changes", limit=2)) as meter:
        changes = history.changes("us-east-1", NOW - timedelta(hours=3), NOW)

    assert len(changes) == 100  # two pages of the newest events, oldest first
    assert changes[-1].event_id.endswith("000000000001") and changes[0].event_id.endswith("000000000100")
    assert meter.refused == 1
    with metered(CallMeter("changes", limit=0)), pytest.raises(CallBudgetExceeded):
        history.changes("us-east-1", NOW - timedelta(hours=3), NOW)  # nothing read: the source fails


# --- GitHub and ServiceNow stand-ins ----------------------------------------------------------------------------

TOKEN = "ghp_budget_test"
REPO = "acme/checkout"


@pytest.fixture
def github() -> Iterator[tuple[str, FaultInjector]]:
    state, faults = GitHubState(), FaultInjector()
    state.add_repo(REPO)
    for i in range(3):
        state.add_commit(
            REPO, f"{i}" * 40, f"change {i} (#{50 + i})", "dana", NOW - timedelta(minutes=i + 1), pr=70 + i
        )
    for url in served(create_github_app(state, faults, TOKEN), faults):
        yield url, faults


def test_github_requests_are_charged_and_pull_lookups_past_the_budget_fall_back_to_the_message(
    github: tuple[str, FaultInjector],
) -> None:
    url, faults = github
    tracker = GitHubTracker(url, TOKEN, write_interval=0.0)

    with metered(CallMeter("deploys", limit=2)) as meter:  # the commit list and one pulls lookup
        found = tracker.commits(REPO, NOW - timedelta(hours=1), NOW)

    assert [record.details["pull_requests"] for record in found] == [[50, 70], [51], [52]]
    assert meter.calls == {"github": 2} and meter.refused == 2
    sent = [r for r in faults.requests() if re.search(r"/commits", r.path)]
    assert len(sent) == 2  # the refused lookups never reached the server


def test_servicenow_requests_past_the_budget_are_not_sent() -> None:
    state, faults = ServiceNowState(), FaultInjector()
    for number in range(5):
        state.add_record(
            "change_request",
            {"number": f"CHG{number}", "cmdb_ci": "checkout", "start_date": "2026-03-01 10:00:00", "state": "-1"},
        )
    for url in served(create_servicenow_app(state, faults, "agent", "pw"), faults):
        tracker = ServiceNowTracker(url, "agent", "pw", page_size=2)
        window = (datetime(2026, 3, 1, 9, tzinfo=UTC), datetime(2026, 3, 1, 12, tzinfo=UTC))
        with metered(CallMeter("tickets", limit=2)) as meter, pytest.raises(CallBudgetExceeded):
            tracker.change_requests("checkout", *window)
        assert meter.calls == {"servicenow.GET": 2}
        assert len(faults.requests()) == 2
