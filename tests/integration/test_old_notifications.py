"""Old SNS notifications: a validly signed message about a state change older than `intake.sns.max_event_age`
(30 days: a captured message replayed) is stored as received, and opens an incident only if DescribeAlarms - moto
over HTTP, through the CloudWatch adapter - shows the alarm still in that state."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.cloudwatch import CloudWatchAlarmSource
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.grouping import GroupingOutcome
from oncall_agent.domain.records import AlarmSnapshot
from oncall_agent.intake.grouping import Grouper
from oncall_agent.intake.old_events import OldEventGate
from tests.integration.test_webhooks import TOPIC, Harness, alarm_message, make_harness

REGION = "us-east-1"
MAX_AGE = timedelta(hours=1)


@pytest.fixture()
def harness(tmp_path: Path) -> Iterator[Harness]:
    yield from make_harness(tmp_path)


def cloudwatch(endpoint: str) -> functools.partial[object]:
    return functools.partial(
        make_client, "cloudwatch", endpoint_url=endpoint, access_key_id="t", secret_access_key="t", max_attempts=1
    )


def put_alarm(endpoint: str, name: str, state: str) -> str:
    client = cloudwatch(endpoint)(REGION)
    client.put_metric_alarm(
        AlarmName=name,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=3,
        Threshold=50.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    client.set_alarm_state(AlarmName=name, StateValue=state, StateReason="set by the test")
    return str(client.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"])


def notification(harness: Harness, name: str, changed: datetime) -> dict[str, object]:
    """A signed notification of `name` going to ALARM at `changed`, sent by SNS at that time."""
    body = json.loads(alarm_message(when=changed.strftime("%Y-%m-%dT%H:%M:%S.000+0000")))
    body["AlarmName"] = name
    body["AlarmArn"] = f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:{name}"
    return harness.signer.notification(TOPIC, json.dumps(body), subject=f"ALARM: {name}", timestamp=changed)


def grouper(harness: Harness, moto_endpoint: str, catalog: list[Service] | None = None) -> Grouper:
    alarms = CloudWatchAlarmSource(cloudwatch(moto_endpoint))
    gate = OldEventGate(
        alarms, MAX_AGE, lambda: datetime.now(UTC), lambda verdict: harness.metrics.old_events.labels(verdict).inc()
    )
    return Grouper(harness.store, catalog or [], timedelta(minutes=10), gate)


@pytest.mark.parametrize(
    ("now_in_moto", "outcome", "verdict"),
    [
        ("ALARM", GroupingOutcome.CREATE, "confirmed"),
        ("OK", GroupingOutcome.OUTDATED, "not_in_state"),
        (None, GroupingOutcome.OUTDATED, "alarm_gone"),
    ],
)
def test_a_replayed_30_day_old_alarm_opens_an_incident_only_if_the_alarm_is_still_in_alarm(
    harness: Harness, moto_endpoint: str, now_in_moto: str | None, outcome: GroupingOutcome, verdict: str
) -> None:
    name = f"checkout-5xx-{uuid.uuid4().hex[:8]}"
    if now_in_moto is not None:
        put_alarm(moto_endpoint, name, now_in_moto)
    answer = harness.sns(notification(harness, name, datetime.now(UTC) - timedelta(days=30)))
    assert answer.status_code == 200 and answer.json()["status"] == "stored"  # stored as received

    (grouped,) = grouper(harness, moto_endpoint).run_once()

    assert grouped.decision.outcome is outcome
    assert harness.store.event_counts() == {"events": 1, "duplicates": 0, "ungrouped": 0}
    opened = [i for i in harness.store.list_incidents() if i.alarms]
    assert len(opened) == (1 if outcome is GroupingOutcome.CREATE else 0)
    assert harness.counter("oncall_old_events_total", verdict=verdict) == 1


def test_a_fresh_notification_is_not_checked(harness: Harness, moto_endpoint: str) -> None:
    name = f"checkout-5xx-{uuid.uuid4().hex[:8]}"  # unknown to moto: a check would refuse it
    harness.sns(notification(harness, name, datetime.now(UTC) - MAX_AGE + timedelta(minutes=5)))

    (grouped,) = grouper(harness, moto_endpoint).run_once()

    assert grouped.decision.outcome is GroupingOutcome.CREATE
    assert len(harness.store.list_incidents()) == 1
    assert harness.metrics.registry.get_sample_value("oncall_old_events_total", {"verdict": "alarm_gone"}) is None


def test_an_old_alarm_does_not_join_an_incident_unless_confirmed(harness: Harness, moto_endpoint: str) -> None:
    """Storm control would put both alarms of the service into one incident: the second, not confirmed, stays out."""
    still_firing, recovered = (f"checkout-{kind}-{uuid.uuid4().hex[:8]}" for kind in ("5xx", "latency"))
    put_alarm(moto_endpoint, still_firing, "ALARM")
    put_alarm(moto_endpoint, recovered, "OK")
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    harness.sns(notification(harness, still_firing, two_days_ago))
    harness.sns(notification(harness, recovered, two_days_ago + timedelta(minutes=1)))
    catalog = [Service(name="checkout", alarm_patterns=["checkout-*"])]

    outcomes = [g.decision.outcome for g in grouper(harness, moto_endpoint, catalog).run_once()]

    assert outcomes == [GroupingOutcome.CREATE, GroupingOutcome.OUTDATED]
    (incident,) = harness.store.list_incidents()
    assert [alarm.alarm_name for alarm in incident.alarms] == [still_firing]
    assert harness.counter("oncall_old_events_total", verdict="confirmed") == 1
    assert harness.counter("oncall_old_events_total", verdict="not_in_state") == 1


class WritingAlarms(CloudWatchAlarmSource):
    """The real adapter; on each lookup it counts the call and has intake store an event meanwhile, which would
    wait for (and time out on) the store's write lock if the lookup ran inside a grouping transaction."""

    def __init__(self, endpoint: str, harness: Harness) -> None:
        super().__init__(cloudwatch(endpoint))
        self.harness, self.lookups = harness, 0

    def snapshots(self, region: str, names: list[str] | None = None) -> list[AlarmSnapshot]:
        self.lookups += 1
        fresh = notification(self.harness, f"checkout-other-{uuid.uuid4().hex[:8]}", datetime.now(UTC))
        assert self.harness.sns(fresh).status_code == 200
        return super().snapshots(region, names)


def test_old_notifications_cost_one_describe_alarms_made_outside_the_grouping_transaction(
    harness: Harness, moto_endpoint: str
) -> None:
    names = [f"checkout-5xx-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for name, state in zip(names, ["ALARM", "OK", "ALARM"], strict=True):
        put_alarm(moto_endpoint, name, state)
        harness.sns(notification(harness, name, datetime.now(UTC) - timedelta(days=30)))
    alarms = WritingAlarms(moto_endpoint, harness)
    gate = OldEventGate(alarms, MAX_AGE, lambda: datetime.now(UTC))

    grouped = Grouper(harness.store, [], timedelta(minutes=10), gate).run_once(limit=3)

    create, outdated = GroupingOutcome.CREATE, GroupingOutcome.OUTDATED
    assert [g.decision.outcome for g in grouped] == [create, outdated, create]
    assert alarms.lookups == 1  # one region, one call for the batch
    assert harness.store.event_counts()["ungrouped"] == 1  # the event intake stored during the lookup
