"""Seed a scenario's moto-side `events` (format 2): ECS service events, stopped ECS tasks and RDS events, in
the scenario's account; `{at:…}` in their text becomes the clock time. Health events go to their stand-in
(`seed_standins`). moto's own RDS creation events are moved back to when the databases were created, days
ago, so DescribeEvents over the incident shows only what the scenario says happened.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from oncall_agent.sandbox import moto_events
from oncall_agent.sandbox.moto_events import RdsEventRecord, StoppedTask
from oncall_agent.sandbox.scenario import (
    EcsServiceEvent,
    EcsStoppedTask,
    RdsEvent,
    Scenario,
    resolve_time,
)
from oncall_agent.sandbox.scenario_targets import (
    account_of,
    ecs_event_target,
    latest_ecs_deploys,
    task_definition_arn,
)
from oncall_agent.sandbox.scenario_types import substitute_times

RESOURCES_AGE = timedelta(days=3)
"""Declared resources were created this long before the incident."""

# DescribeEvents' SourceType -> the resource type in the source's ARN.
_ARN_KINDS = {
    "db-instance": "db",
    "db-cluster": "cluster",
    "db-parameter-group": "pg",
    "db-cluster-parameter-group": "cluster-pg",
    "db-security-group": "secgrp",
    "db-snapshot": "snapshot",
    "db-cluster-snapshot": "cluster-snapshot",
    "db-proxy": "db-proxy",
    "custom-engine-version": "cev",
    "blue-green-deployment": "deployment",
}


def _task_definition(scenario: Scenario, event: EcsStoppedTask, cluster: str, service: str) -> str:
    if event.task_definition:
        return task_definition_arn(scenario, event.task_definition)
    deploy = latest_ecs_deploys(scenario).get((cluster, service))
    return task_definition_arn(scenario, deploy.task_definition if deploy else f"{service}:1")


def seed_ecs_events(scenario: Scenario, now: datetime) -> int:
    """ECS service events (DescribeServices `events`) and stopped tasks; returns how many were added."""
    account, region, added = account_of(scenario), scenario.region, 0
    by_service: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
    for event in scenario.events:
        if isinstance(event, EcsServiceEvent):
            text = substitute_times(event.message, now)
            by_service.setdefault(ecs_event_target(scenario, event), []).append((resolve_time(event.at, now), text))
        elif isinstance(event, EcsStoppedTask):
            cluster, service = ecs_event_target(scenario, event)
            task = StoppedTask(
                cluster=cluster,
                service=service,
                task_definition_arn=_task_definition(scenario, event, cluster, service),
                stopped_at=resolve_time(event.at, now),
                reason=substitute_times(event.stopped_reason, now),
                exit_code=event.exit_code,
                availability_zone=event.availability_zone or f"{region}a",
            )
            added += moto_events.add_stopped_task(account, region, task) is not None
    for (cluster, service), items in by_service.items():
        added += len(items) * moto_events.add_ecs_service_events(account, region, cluster, service, items)
    return added


def seed_rds_events(scenario: Scenario, now: datetime) -> int:
    account, region, added = account_of(scenario), scenario.region, 0
    created = now - RESOURCES_AGE
    for event in scenario.events:
        if not isinstance(event, RdsEvent):
            continue
        arn = f"arn:aws:rds:{region}:{account}:{_ARN_KINDS[event.source_type]}:{event.resource}"
        record = RdsEventRecord(
            source_identifier=event.resource,
            source_type=event.source_type,
            message=substitute_times(event.message, now),
            event_categories=list(event.categories),
            date=resolve_time(event.at, now),
            source_arn=arn,
        )
        added += moto_events.add_rds_event(account, region, record, created)
    return added


def seed_aws_events(scenario: Scenario, now: datetime) -> int:
    """All moto-side events; moto's own RDS creation events move back even when the scenario has none."""
    if scenario.resources and not any(isinstance(e, RdsEvent) for e in scenario.events):
        moto_events.backdate_rds_events(account_of(scenario), scenario.region, now - RESOURCES_AGE)
    return seed_ecs_events(scenario, now) + seed_rds_events(scenario, now)
