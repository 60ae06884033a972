"""Seed moto from a scenario through boto3 (the way the agent's adapters will read it), and fire its alarms.

`seed_aws` creates the alarms (tagged `service=<name>` plus the service's tags, all starting OK), the other
alarms in their states, the metric series, the log groups/streams/events, and the deploy history (ECS, Lambda,
CodeDeploy: `seed_aws_deploys`). It never fires the incident alarms: the caller does that with `fire_alarm`,
in `fires_at` order, so the alarm's StateUpdatedTimestamp is the moment it really changed and an SNS delivery
can carry exactly that timestamp. Times moto cannot take through its API are adjusted in-process when the
moto server runs in this process (`moto_backdate`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from oncall_agent.domain.time import as_utc
from oncall_agent.sandbox import moto_backdate, moto_resources
from oncall_agent.sandbox.aws_account import account_client
from oncall_agent.sandbox.generate import COMPARISON_PHRASES, level_at, series_index
from oncall_agent.sandbox.scenario import (
    SERIES_WINDOW,
    AlarmSpec,
    MetricQuery,
    MetricRef,
    OtherAlarm,
    Scenario,
    is_extended_statistic,
    resolve_time,
)
from oncall_agent.sandbox.scenario_targets import MOTO_ACCOUNT, account_of
from oncall_agent.sandbox.seed_aws_logs import seed_logs
from oncall_agent.sandbox.seed_aws_metrics import seed_metrics


@dataclass(frozen=True)
class AwsClients:
    """The boto3 clients seeding needs; `connect` builds them for a moto endpoint, acting in one account;
    `client(name)` makes any other one the same way."""

    cloudwatch: Any
    logs: Any
    ecs: Any
    lambda_: Any
    codedeploy: Any
    iam: Any
    factory: Callable[[str], Any] | None = None

    @classmethod
    def connect(cls, endpoint_url: str, region: str = "us-east-1", account: str = MOTO_ACCOUNT) -> AwsClients:
        from botocore.config import Config

        # Only ever local moto: fixed dummy keys, so real credentials in the environment are never used.
        # moto answers unimplemented operations with HTTP 500; retrying them only hides the problem.
        config = Config(retries={"max_attempts": 1})

        def factory(name: str) -> Any:
            return account_client(endpoint_url, name, region, account, config=config)

        return cls(
            cloudwatch=factory("cloudwatch"),
            logs=factory("logs"),
            ecs=factory("ecs"),
            lambda_=factory("lambda"),
            codedeploy=factory("codedeploy"),
            iam=factory("iam"),
            factory=factory,
        )

    def client(self, name: str) -> Any:
        assert self.factory is not None, "clients built by connect() make other clients"
        return self.factory(name)


@dataclass
class SeedSummary:
    """How much was seeded, per kind; `codedeploy_ids` maps scenario deployment ids to moto's."""

    alarms: int = 0
    other_alarms: int = 0
    metric_points: int = 0
    log_groups: int = 0
    log_events: int = 0
    task_definitions: int = 0
    ecs_services: int = 0
    lambda_functions: int = 0
    lambda_versions: int = 0
    codedeploy_deployments: int = 0
    codedeploy_ids: dict[str, str] = field(default_factory=dict)
    backdated: int = 0
    resources: int = 0
    resource_arns: dict[str, str] = field(default_factory=dict)
    unseeded_resources: list[str] = field(default_factory=list)
    renamed: int = 0
    events: int = 0


@dataclass(frozen=True)
class FiredAlarm:
    name: str
    arn: str
    state: str
    state_updated: datetime
    reason: str


def _dimensions(metric: MetricRef | MetricQuery) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in metric.dimensions.items()]


def _tags(scenario: Scenario, service_name: str | None) -> list[dict[str, str]]:
    service = scenario.service(service_name) if service_name else None
    tags = {**(service.tags if service else {}), **({"service": service_name} if service_name else {})}
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _alarm_request(metric: MetricRef | MetricQuery, stat: str, period: int) -> dict[str, Any]:
    request: dict[str, Any] = {
        "Namespace": metric.namespace,
        "MetricName": metric.name,
        "Dimensions": _dimensions(metric),
        "Period": period,
    }
    request["ExtendedStatistic" if is_extended_statistic(stat) else "Statistic"] = stat
    return request


def _nice(value: float, up: bool) -> float:
    """Round to two significant digits, the way people write thresholds (3.6 -> 3.6, 57.61 -> 58)."""
    if value == 0:
        return 0.0
    step = 10 ** (math.floor(math.log10(abs(value))) - 1)
    return float(round((math.ceil if up else math.floor)(value / step) * step, 10))


# Metrics where a low value is the bad one: their alarms compare with LessThanThreshold.
LOWER_IS_WORSE = frozenset(
    {
        "DaysToExpiry",
        "HealthyHostCount",
        "FreeStorageSpace",
        "FreeableMemory",
        "FreeLocalStorage",
        "ActiveControllerCount",
        "BurstBalance",
        "CPUCreditBalance",
        "EBSIOBalance%",
        "EBSByteBalance%",
    }
)


def _other_comparison(alarm: OtherAlarm) -> str:
    return "LessThanThreshold" if alarm.metric.name in LOWER_IS_WORSE else "GreaterThanThreshold"


def _other_threshold(scenario: Scenario, alarm: OtherAlarm) -> float:
    """The format gives other alarms no threshold: pick one the seeded series agrees with, crossed all the
    time since `since` for ALARM and never in the window for OK (0 when no series is seeded). The margin
    keeps a step to exactly a level on the breaching side (4 > 3.6, where 4 > 4 would not hold)."""
    index = series_index(scenario, alarm.metric)
    if index is None:
        return 0.0
    series = scenario.metrics[index]
    start = (
        max(alarm.since, -SERIES_WINDOW).total_seconds() if alarm.state == "ALARM" else -SERIES_WINDOW.total_seconds()
    )
    levels = [level_at(series, offset) for offset in range(int(start), 1, series.metric.period)] or [
        level_at(series, 0)
    ]
    low, high = min(levels) - series.noise, max(levels) + series.noise
    breach_low = alarm.metric.name in LOWER_IS_WORSE
    if (alarm.state == "ALARM") == breach_low:  # the threshold sits above every seeded value
        return _nice(high * 1.2, up=True) if high > 0 else 1.0
    return _nice(low * 0.9, up=False)


def _put_alarm(cloudwatch: Any, scenario: Scenario, alarm: AlarmSpec | OtherAlarm, actions: Sequence[str]) -> None:
    if isinstance(alarm, AlarmSpec):
        request = _alarm_request(alarm.metric, alarm.metric.stat, alarm.metric.period)
        request |= {"Threshold": alarm.threshold, "ComparisonOperator": alarm.comparison}
        request |= {"EvaluationPeriods": alarm.evaluation_periods}
        if alarm.description is not None:
            request["AlarmDescription"] = alarm.description
    else:
        request = _alarm_request(alarm.metric, alarm.metric.stat or "Average", alarm.metric.period or 60)
        threshold = _other_threshold(scenario, alarm)
        request |= {"Threshold": threshold, "ComparisonOperator": _other_comparison(alarm), "EvaluationPeriods": 1}
    cloudwatch.put_metric_alarm(
        AlarmName=alarm.name, AlarmActions=list(actions), Tags=_tags(scenario, alarm.service), **request
    )


def _set_state(cloudwatch: Any, name: str, state: str, reason: str) -> None:
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def seed_alarms(
    scenario: Scenario, now: datetime, cloudwatch: Any, summary: SeedSummary, actions: Sequence[str] = ()
) -> None:
    """Incident alarms in OK (quiet for the whole window), other alarms in their state since `since`."""
    account = account_of(scenario)
    for alarm in scenario.alarms:
        _put_alarm(cloudwatch, scenario, alarm, actions)
        phrase = COMPARISON_PHRASES[alarm.comparison]
        _set_state(cloudwatch, alarm.name, "OK", f"Threshold Crossed: no datapoint was {phrase} the threshold.")
        quiet_since = resolve_time(-SERIES_WINDOW, now)
        summary.backdated += moto_backdate.backdate_alarm_state(account, scenario.region, alarm.name, quiet_since)
        summary.alarms += 1
    for other in scenario.other_alarms:
        _put_alarm(cloudwatch, scenario, other, actions)
        _set_state(cloudwatch, other.name, other.state, f"State set to {other.state} by the scenario.")
        since = resolve_time(other.since, now)
        summary.backdated += moto_backdate.backdate_alarm_state(account, scenario.region, other.name, since)
        summary.other_alarms += 1


def seed_aws(
    scenario: Scenario, now: datetime, clients: AwsClients | str, *, alarm_actions: Sequence[str] = ()
) -> SeedSummary:
    """Seed everything AWS-side for `scenario` as of `now`; `clients` may be a moto endpoint URL."""
    from oncall_agent.sandbox.seed_aws_deploys import seed_deploys
    from oncall_agent.sandbox.seed_aws_events import seed_aws_events
    from oncall_agent.sandbox.seed_resources import seed_resources

    if isinstance(clients, str):
        clients = AwsClients.connect(clients, scenario.region, account_of(scenario))
    now = as_utc(now)
    summary = SeedSummary()
    seed_alarms(scenario, now, clients.cloudwatch, summary, alarm_actions)
    summary.metric_points = seed_metrics(scenario, now, clients.cloudwatch)
    seed_logs(scenario, now, clients.logs, summary)
    moto_resources.forget_tagged()  # a world seeded earlier in this process leaves no tagged resources behind
    if scenario.resources or any(s.ecs and s.ecs.target_groups for s in scenario.services):
        arns, summary.unseeded_resources, summary.renamed = seed_resources(scenario, clients.client)
        summary.resource_arns, summary.resources = arns, len(scenario.resources) - len(summary.unseeded_resources)
    seed_deploys(scenario, now, clients, summary)
    summary.events = seed_aws_events(scenario, now)
    return summary


def fire_alarm(
    cloudwatch: Any, alarm: AlarmSpec, reason: str | None = None, reason_data: dict[str, Any] | None = None
) -> FiredAlarm:
    """Move `alarm` to ALARM (set_alarm_state); return its ARN and StateUpdatedTimestamp as moto reports."""
    if reason is None:
        reason = (
            f"Threshold Crossed: {alarm.evaluation_periods} datapoint(s) were "
            f"{COMPARISON_PHRASES[alarm.comparison]} the threshold ({float(alarm.threshold)})."
        )
    extra = {"StateReasonData": json.dumps(reason_data)} if reason_data is not None else {}
    cloudwatch.set_alarm_state(AlarmName=alarm.name, StateValue="ALARM", StateReason=reason, **extra)
    found = cloudwatch.describe_alarms(AlarmNames=[alarm.name])["MetricAlarms"][0]
    return FiredAlarm(
        name=found["AlarmName"],
        arn=found["AlarmArn"],
        state=found["StateValue"],
        state_updated=as_utc(found["StateUpdatedTimestamp"]),
        reason=found.get("StateReason", reason),
    )
