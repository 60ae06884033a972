"""The `events` evidence source: AWS's own event feeds (RDS events, AWS Health, the ECS service events and
stopped tasks of the service and of each dependency running on ECS) -> `aws_event` items.

`aws_event` (source `events`), `entity` = the resource the event is about (DB identifier, ECS service name,
a Health affected entity, else the AWS service name), `at` = when it started. `details`:
    feed: rds | health | ecs | ecs_task; message; resources (every affected entity)
    owner: the catalog service the resource belongs to when the catalog says so (else null);
    resource_type (when the catalog declares it); on_service: the alarmed service's own (true) or a
    dependency's (false) or neither (null)
    minutes_before_onset (positive: before the alarm)
    plus the feed's own fields: rds `source_type`, `categories`; health `service`, `type`, `category`,
    `status`, `region`, `availability_zone`, `end`; ecs_task `stopped_reason`, `stop_code`, `exit_codes`,
    `task_definition`, `availability_zone`, `task`, `time_unknown`; ecs `cluster`, `id`.
ECS "has reached a steady state" messages are routine and left out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Evidence, EvidenceKind
from oncall_agent.domain.records import AwsEventRecord
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.neighbourhood.walk import dependency_services
from oncall_agent.ports import AwsEventFeed

SOURCE = "events"
MAX_EVENTS = 60
ROUTINE = ("has reached a steady state",)


def _owners(service: Service, dependencies: list[Service]) -> dict[str, tuple[str, str | None]]:
    """Resource id -> (owning service, CloudFormation type) from the catalog."""
    owners: dict[str, tuple[str, str | None]] = {}
    for svc in [service, *dependencies]:
        if svc.ecs is not None:
            owners.setdefault(svc.ecs.service, (svc.name, "AWS::ECS::Service"))
        if svc.lambda_ is not None:
            owners.setdefault(svc.lambda_.function, (svc.name, "AWS::Lambda::Function"))
        for ref in svc.resources:
            owners.setdefault(ref.id, (svc.name, ref.type))
    return owners


def _item(record: AwsEventRecord, ctx: CorrelationContext, owners: dict[str, tuple[str, str | None]]) -> Evidence:
    owner, rtype = next((owners[r] for r in [record.resource, *record.resources] if r in owners), (None, None))
    details: dict[str, Any] = {
        **record.details,
        "feed": record.source.value,
        "message": record.message,
        "resources": list(record.resources),
        "owner": owner,
        "resource_type": rtype,
        "on_service": None if owner is None else owner == ctx.service.name,
        "minutes_before_onset": ctx.minutes_before_onset(record.at),
    }
    summary = f"{record.source.value} event on {record.resource}: {record.message}"
    return Evidence(
        kind=EvidenceKind.AWS_EVENT,
        source=SOURCE,
        at=record.at,
        entity=record.resource,
        summary=summary[:500],
        details=details,
        link=record.link,
    )


def event_evidence(
    service: Service, catalog: list[Service], region: str, feed: AwsEventFeed | None, ctx: CorrelationContext
) -> list[Evidence]:
    if feed is None:
        return [build.gap(SOURCE, "no AWS event feed configured")]
    dependencies = dependency_services(service, catalog)
    reads: list[tuple[str, Callable[[], list[AwsEventRecord]]]] = [
        ("rds DescribeEvents", lambda: feed.rds_events(region, ctx.window_start, ctx.now)),
        ("health DescribeEvents", lambda: feed.health_events(region, ctx.window_start, ctx.now)),
    ]
    for svc in [service, *dependencies]:
        if svc.ecs is not None:
            ecs = svc.ecs
            ecs_read = partial(feed.ecs_events, region, ecs.cluster, ecs.service, ctx.window_start, ctx.now)
            reads.append((f"ecs events {ecs.service}", ecs_read))
    records: list[AwsEventRecord] = []
    gaps: list[Evidence] = []
    for api, read in reads:
        try:
            records += read()
        except Exception as exc:  # noqa: BLE001 - one feed that cannot be read is a gap, the others still count
            gaps.append(build.gap(SOURCE, f"{api}: {type(exc).__name__}: {str(exc)[:200]}"))
    records = [r for r in records if not any(text in r.message for text in ROUTINE)]
    records.sort(key=lambda r: r.at, reverse=True)
    if len(records) > MAX_EVENTS:
        gaps.append(build.cut(SOURCE, f"only the newest {MAX_EVENTS} of {len(records)} events kept"))
    owners = _owners(service, dependencies)
    return [*(_item(r, ctx, owners) for r in records[:MAX_EVENTS]), *gaps]
