"""CloudTrail adapters: deploys of a service (ports.DeployHistory) and configuration writes (ports.ChangeHistory).

A deploy is an ECS UpdateService that sets a task definition, a Lambda UpdateAlias or a CodeDeploy
CreateDeployment (`cloudtrail_events.is_deploy`); how each becomes a DeployRecord, and what `previous` is, is in
`cloudtrail_deploys`. Every other successful, non-read-only management event is a configuration change, except
the pipeline steps that change nothing running by themselves (RegisterTaskDefinition, PublishVersion). Calls
that failed (`errorCode`) changed nothing and are skipped everywhere.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from oncall_agent.adapters.aws.cloudtrail_deploys import codedeploy_deploys, ecs_deploys, lambda_deploys
from oncall_agent.adapters.aws.cloudtrail_events import (
    CODEDEPLOY_DEPLOY_EVENT,
    DEFAULT_MAX_EVENTS,
    ECS_DEPLOY_EVENT,
    LAMBDA_DEPLOY_EVENT,
    PIPELINE_EVENTS,
    ClientFactory,
    RegionClients,
    TrailEvent,
    is_deploy,
    lookup_events,
)
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.records import ChangeRecord, DeployRecord
from oncall_agent.domain.time import as_utc

DEFAULT_PREVIOUS_LOOKBACK = timedelta(days=1)
DEFAULT_MAX_CHANGES = 1000


class CloudTrailDeployHistory:
    """Deploys of one catalog service, from CloudTrail, enriched (best effort) from ECS, Lambda and CodeDeploy.

    `client_for_region` builds CloudTrail clients (in the sandbox they point at the CloudTrail stand-in); the
    optional `*_for_region` factories enable enrichment: task definition ARN and images, whether the version
    before still exists, the alias's version now, deployment status. Events up to `previous_lookback` before
    `start` are read too, so that a deploy's `previous` can come from the deploy before it. Each kind costs one
    LookupEvents (`EventName`: the only lookup attribute that selects deploys) of at most `max_events` events.
    """

    def __init__(
        self,
        client_for_region: ClientFactory,
        *,
        ecs_for_region: ClientFactory | None = None,
        lambda_for_region: ClientFactory | None = None,
        codedeploy_for_region: ClientFactory | None = None,
        previous_lookback: timedelta = DEFAULT_PREVIOUS_LOOKBACK,
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> None:
        self._clients = RegionClients(
            {
                "cloudtrail": client_for_region,
                "ecs": ecs_for_region,
                "lambda": lambda_for_region,
                "codedeploy": codedeploy_for_region,
            }
        )
        self._lookback = previous_lookback
        self._max_events = max_events

    def deploys(self, region: str, service: Service, start: datetime, end: datetime) -> list[DeployRecord]:
        """The service's deploys in [start, end], oldest first. CloudTrail errors propagate."""
        start, end = as_utc(start), as_utc(end)
        records: list[DeployRecord] = []
        if service.ecs:
            events = self._history(region, ECS_DEPLOY_EVENT, start, end)
            records += ecs_deploys(events, service, self._clients.get("ecs", region), region, start)
        if service.lambda_:
            events = self._history(region, LAMBDA_DEPLOY_EVENT, start, end)
            records += lambda_deploys(events, service, self._clients.get("lambda", region), region, start)
        if service.codedeploy:
            events = self._history(region, CODEDEPLOY_DEPLOY_EVENT, start, end)
            records += codedeploy_deploys(events, service, self._clients.get("codedeploy", region), region, start)
        return sorted(records, key=lambda record: (record.at, record.identifier))

    def _history(self, region: str, name: str, start: datetime, end: datetime) -> list[TrailEvent]:
        """Successful `name` events in [start - lookback, end], oldest first."""
        client = self._clients.get("cloudtrail", region)
        events = lookup_events(client, "EventName", name, start - self._lookback, end, self._max_events)
        return [event for event in reversed(events) if not event.failed]


class CloudTrailChangeHistory:
    """Configuration writes in a window: one LookupEvents with `ReadOnly=false`, deploys and pipeline steps
    removed. At most `max_events` events are read (the newest); CloudTrail allows 2 LookupEvents a second."""

    def __init__(self, client_for_region: ClientFactory, *, max_events: int = DEFAULT_MAX_CHANGES) -> None:
        self._clients = RegionClients({"cloudtrail": client_for_region})
        self._max_events = max_events

    def changes(self, region: str, start: datetime, end: datetime) -> list[ChangeRecord]:
        """Oldest first. CloudTrail errors propagate (the caller records a gap)."""
        client = self._clients.get("cloudtrail", region)
        events = lookup_events(client, "ReadOnly", "false", start, end, self._max_events)
        kept = [e for e in events if not e.failed and not is_deploy(e) and e.name not in PIPELINE_EVENTS]
        return sorted((to_change(e) for e in kept), key=lambda change: (change.at, change.event_id))


def to_change(event: TrailEvent) -> ChangeRecord:
    names = [r.get("ResourceName") for r in event.resources]
    return ChangeRecord(
        event_id=event.event_id,
        at=event.at,
        name=event.name,
        source=event.source,
        actor=event.username,
        resources=[name for name in names if name],
        parameters=event.request,
        read_only=False,
    )
