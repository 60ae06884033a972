"""Build what the live evidence sources would return for a scenario, with the sandbox's pure generators.

The metric series is the alarm's (generate.alarm_points); the log sample the service's log groups
(generate.log_lines, the latest `log_limit` lines, as a bounded Logs Insights query returns them); deploys,
commits and CloudTrail changes follow trail_events.py (an ECS deploy's identifier is its task definition);
alarms, tickets and past incidents come from `other_alarms`, `tickets` and `history`.

`realistic=True` applies the sources' filters (this service's deploys and repository commits only, records
in the lookback window, change requests on the service's CI, issues of its repository naming the alarm or
recent);
`realistic=False` hands over every record the scenario has, distractors included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from oncall_agent.domain.alarm import AlarmState, MetricSpec
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Category, Evidence
from oncall_agent.domain.incident import Incident, IncidentStatus, Resolution
from oncall_agent.domain.records import (
    AlarmSnapshot,
    ChangeRecord,
    DeployKind,
    DeployRecord,
    LogRecord,
    LogSample,
    MetricSeries,
    TicketRecord,
)
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.sandbox.generate import alarm_points, log_lines
from oncall_agent.sandbox.scenario import (
    CodeDeployDeploy,
    EcsDeploy,
    GitHubTicket,
    LambdaDeploy,
    Scenario,
    load_scenario,
    resolve_time,
)
from oncall_agent.sandbox.scenario_targets import (
    account_of,
    catalog_service_for,
    codedeploy_revision,
    ecs_service_arn,
    ecs_target,
    lambda_alias,
    stable_uuid,
    task_definition_arn,
)
from oncall_agent.sandbox.trail_events import trail_events

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
NOW = datetime(2026, 3, 14, 15, 9, 26, 535000, tzinfo=UTC)
LOOKBACK = timedelta(minutes=180)


@dataclass
class Inputs:
    scenario: Scenario
    ctx: CorrelationContext
    series: MetricSeries
    sample: LogSample
    deploys: list[DeployRecord] = field(default_factory=list)
    changes: list[ChangeRecord] = field(default_factory=list)
    alarms: list[AlarmSnapshot] = field(default_factory=list)
    tickets: list[TicketRecord] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)

    def evidence(self) -> list[Evidence]:
        ctx = self.ctx
        return [
            *build.metric_evidence(self.series, ctx),
            *build.log_evidence(self.sample, ctx),
            *build.deploy_evidence(self.deploys, ctx),
            *build.change_evidence(self.changes, ctx),
            *build.related_alarm_evidence(self.alarms, ctx),
            *build.ticket_evidence(self.tickets, ctx),
            *build.past_incident_evidence(self.incidents, ctx),
        ]


def _deploy_record(
    scenario: Scenario, index: int, deploy: EcsDeploy | LambdaDeploy | CodeDeployDeploy, now: datetime
) -> DeployRecord:
    service = catalog_service_for(scenario, deploy)
    common = {"service": service.name if service else None, "at": resolve_time(deploy.at, now), "actor": deploy.actor}
    if isinstance(deploy, EcsDeploy):
        cluster, name = ecs_target(scenario, deploy.service)
        return DeployRecord(
            kind=DeployKind.ECS,
            target=ecs_service_arn(scenario, cluster, name),
            identifier=deploy.task_definition,
            previous=deploy.previous,
            source_event_id=stable_uuid(scenario.id, "deploys", index, "UpdateService"),
            details={"image": deploy.image, "taskDefinitionArn": task_definition_arn(scenario, deploy.task_definition)},
            **common,
        )
    if isinstance(deploy, LambdaDeploy):
        previous = f"{deploy.function}:{deploy.previous}" if deploy.previous else None
        return DeployRecord(
            kind=DeployKind.LAMBDA,
            target=deploy.function,
            identifier=f"{deploy.function}:{deploy.version}",
            previous=previous,
            details={"function": deploy.function, "alias": lambda_alias(scenario, deploy), "version": deploy.version},
            **common,
        )
    # As cloudtrail_deploys reads a CreateDeployment: `previous` is the group's deployment before it.
    earlier = [
        d
        for d in scenario.deploys
        if isinstance(d, CodeDeployDeploy) and (d.application, d.group) == (deploy.application, deploy.group)
        if d.at < deploy.at
    ]
    revision = codedeploy_revision(scenario, deploy)
    details = {"application": deploy.application, "deployment_group": deploy.group, "revision": revision}
    details |= {"deployment_id": deploy.deployment_id, "commit": deploy.revision}
    return DeployRecord(
        kind=DeployKind.CODEDEPLOY,
        target=f"{deploy.application}/{deploy.group}",
        identifier=deploy.deployment_id,
        previous=max(earlier, key=lambda d: d.at).deployment_id if earlier else None,
        details=details,
        **common,
    )


def deploy_records(scenario: Scenario, now: datetime) -> list[DeployRecord]:
    records = [_deploy_record(scenario, index, deploy, now) for index, deploy in enumerate(scenario.deploys)]
    repos = {service.repo: service.name for service in scenario.services if service.repo}
    records += [
        DeployRecord(
            kind=DeployKind.GITHUB_COMMIT,
            service=repos.get(commit.repo),
            target=commit.repo,
            identifier=commit.sha,
            at=resolve_time(commit.at, now),
            actor=commit.author,
            details={"message": commit.message, "pr": commit.pr},
            link=f"https://github.com/{commit.repo}/commit/{commit.sha}",
        )
        for commit in scenario.commits
    ]
    return records


def change_records(scenario: Scenario, now: datetime) -> list[ChangeRecord]:
    return [
        ChangeRecord(
            event_id=event.event_id,
            at=event.at,
            name=event.name,
            source=event.source,
            actor=event.username,
            resources=[resource["ResourceName"] for resource in event.resources],
            parameters=event.parameters,
        )
        for event in trail_events(scenario, now)
    ]


def alarm_snapshots(scenario: Scenario, now: datetime) -> list[AlarmSnapshot]:
    region, account = scenario.region, account_of(scenario)
    incident = scenario.incident_alarm
    snapshots = [
        AlarmSnapshot(
            name=incident.name,
            arn=f"arn:aws:cloudwatch:{region}:{account}:alarm:{incident.name}",
            state=AlarmState.ALARM,
            since=resolve_time(incident.fires_at, now),
            metric=MetricSpec.model_validate(incident.metric.model_dump()),
            tags={"service": incident.service},
        )
    ]
    for other in scenario.other_alarms:
        snapshots.append(
            AlarmSnapshot(
                name=other.name,
                arn=f"arn:aws:cloudwatch:{region}:{account}:alarm:{other.name}",
                state=AlarmState(other.state),
                since=resolve_time(other.since, now),
                metric=MetricSpec.model_validate(other.metric.model_dump()),
                tags={"service": other.service} if other.service else {},
            )
        )
    return snapshots


def ticket_records(scenario: Scenario, now: datetime) -> list[TicketRecord]:
    def at(offset: timedelta | None) -> datetime | None:
        return resolve_time(offset, now) if offset is not None else None

    records = []
    for ticket in scenario.tickets:
        if isinstance(ticket, GitHubTicket):
            records.append(
                TicketRecord(
                    system="github",
                    kind="issue",
                    number=f"{ticket.repo}#{ticket.number}",
                    title=ticket.title,
                    ci=ticket.repo,
                    opened=at(ticket.opened),
                    labels=ticket.labels,
                    state="open",
                )
            )
        else:
            records.append(
                TicketRecord(
                    system="servicenow",
                    kind=ticket.table,
                    number=ticket.number,
                    title=ticket.short_description,
                    state=ticket.state,
                    ci=ticket.ci,
                    opened=at(ticket.opened),
                    start=at(ticket.start),
                    end=at(ticket.end),
                )
            )
    return records


def past_incidents(scenario: Scenario, now: datetime) -> list[Incident]:
    incidents = []
    for index, past in enumerate(scenario.history):
        opened = resolve_time(past.opened, now)
        incidents.append(
            Incident(
                id=f"inc-past-{index}",
                fingerprint=f"past:{index}",
                service=past.service,
                status=IncidentStatus.RESOLVED,
                first_event_at=opened,
                last_event_at=opened + timedelta(hours=1),
                title=past.title,
                resolution=Resolution(category=Category(past.category), culprit=past.culprit, summary=past.resolution),
            )
        )
    return incidents


def log_sample(scenario: Scenario, now: datetime, start: datetime, limit: int) -> LogSample:
    groups = set(scenario.service(scenario.incident_alarm.service).log_groups)  # type: ignore[union-attr]
    records = [
        LogRecord(at=at, group=spec.group, stream=spec.stream, message=message)
        for index, spec in enumerate(scenario.logs)
        if spec.group in groups
        for at, message in log_lines(spec, now, f"{scenario.id}:logs:{index}")
        if start <= at <= now
    ]
    records.sort(key=lambda record: record.at)
    return LogSample(records=records[-limit:], truncated=len(records) > limit)


def _fetched(ticket: TicketRecord, service: Service, alarm_name: str, start: datetime, end: datetime) -> bool:
    """What the ticket sources ask for: change requests on the service's CI whose window overlaps the lookback
    (or that start or were opened in it), and issues of the service's repository that mention the alarm or were
    opened in the last 90 days (the known issues a new signature may match)."""
    if ticket.system == "github":
        recent = ticket.opened is not None and ticket.opened >= end - timedelta(days=90)
        return ticket.ci == service.repo and (recent or alarm_name.lower() in ticket.title.lower())
    if ticket.kind != "change_request" or ticket.ci != service.servicenow_ci:
        return False
    if ticket.start and ticket.end and ticket.start <= end and ticket.end >= start:
        return True
    return any(moment and start <= moment <= end for moment in (ticket.start, ticket.opened))


def expressible(scenario: Scenario) -> bool:
    """Whether these pure generators can build what the live sources would return: not for a scenario with a
    neighbourhood (resources, AWS events, recorded points, declared resources or target groups), which only the
    sandbox's AWS can answer."""
    declared = any(s.resources or (s.ecs and s.ecs.target_groups) for s in scenario.services)
    recorded = any(m.points is not None for m in scenario.metrics)
    return not (scenario.resources or scenario.events or declared or recorded)


def scenario_inputs(scenario_id: str, *, realistic: bool = True, now: datetime = NOW, log_limit: int = 5000) -> Inputs:
    scenario = load_scenario(SCENARIOS / f"{scenario_id}.yaml")
    alarm = scenario.incident_alarm
    service = scenario.service(alarm.service)
    assert service is not None
    onset = resolve_time(alarm.fires_at, now)
    start = onset - LOOKBACK
    metric = MetricSpec.model_validate(alarm.metric.model_dump())
    ctx = CorrelationContext(service, list(scenario.services), alarm.name, metric, onset, start, now)
    points = [(at, value) for at, value in alarm_points(scenario, alarm, now) if start <= at <= now]
    deploys, changes = deploy_records(scenario, now), change_records(scenario, now)
    tickets = ticket_records(scenario, now)
    if realistic:
        deploys = [d for d in deploys if start <= d.at <= now and d.service == service.name]
        changes = [c for c in changes if start <= c.at <= now]
        tickets = [t for t in tickets if _fetched(t, service, alarm.name, start, now)]
    return Inputs(
        scenario=scenario,
        ctx=ctx,
        series=MetricSeries(metric=metric, stat=alarm.metric.stat, period=alarm.metric.period, points=points),
        sample=log_sample(scenario, now, start, log_limit),
        deploys=deploys,
        changes=changes,
        alarms=alarm_snapshots(scenario, now),
        tickets=tickets,
        incidents=past_incidents(scenario, now),
    )
