"""Seed the GitHub, ServiceNow and CloudTrail stand-ins from a scenario.

`commits` become commits with their merged pulls, deploys with a known commit sha become GitHub deployments,
`tickets` become ServiceNow records (labels such as `implement` or `resolved` mapped to the state codes the
Table API uses) or GitHub issues, and deploys and `changes` become CloudTrail events (`trail_events`). The
stand-ins' states are typed by Protocols with exactly the methods used, so this module does not import them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from oncall_agent.domain.time import as_utc
from oncall_agent.sandbox.scenario import (
    CodeDeployDeploy,
    EcsDeploy,
    GitHubTicket,
    HealthEvent,
    LambdaDeploy,
    Scenario,
    ServiceNowTicket,
    resolve_time,
)
from oncall_agent.sandbox.scenario_targets import account_of, catalog_service_for, image_sha
from oncall_agent.sandbox.scenario_types import substitute_times
from oncall_agent.sandbox.standins.health_state import HealthEventRecord
from oncall_agent.sandbox.trail_events import DEFAULT_DEPLOYER, trail_events

SERVICENOW_TIME = "%Y-%m-%d %H:%M:%S"
# Out-of-box state choices (value = what the Table API returns without display values).
SERVICENOW_STATES = {
    "incident": {
        "new": "1", "in progress": "2", "on hold": "3", "resolved": "6", "closed": "7", "canceled": "8",
    },
    "change_request": {
        "new": "-5", "assess": "-4", "authorize": "-3", "scheduled": "-2", "implement": "-1", "review": "0",
        "closed": "3", "canceled": "4",
    },
    "problem": {
        "new": "101", "assess": "102", "root cause analysis": "103", "fix in progress": "104",
        "resolved": "106", "closed": "107",
    },
}  # fmt: skip


def servicenow_state(table: str, label: str) -> str:
    """`implement` -> `-1` for a change request; codes and unknown labels pass through unchanged."""
    key = label.strip().lower().replace("_", " ").replace("-", " ")
    return SERVICENOW_STATES.get(table, {}).get(key, label)


class GitHubLike(Protocol):
    """The seeding API of the GitHub stand-in's state (the Protocols mirror the published signatures)."""

    def add_repo(self, full_name: str) -> None: ...
    def add_commit(
        self, repo: str, sha: str, message: str, author: str, at: datetime, pr: int | None = None
    ) -> None: ...
    def add_pull(
        self, repo: str, number: int, title: str, merged_at: datetime | None, head_sha: str, author: str
    ) -> None: ...
    def add_issue(self, repo: str, number: int, title: str, opened: datetime, labels: list[str]) -> None: ...
    def add_deployment(self, repo: str, sha: str, environment: str, at: datetime, creator: str) -> object: ...


class ServiceNowLike(Protocol):
    def add_record(self, table: str, fields: dict[str, str]) -> object: ...


class CloudTrailLike(Protocol):
    def add_event(
        self,
        event_id: str,
        event_name: str,
        event_source: str,
        at: datetime,
        username: str,
        resources: list[dict[str, str]],
        request_parameters: dict[str, Any],
        read_only: bool = ...,
        access_key_id: str | None = ...,
        aws_region: str = ...,
        account: str = ...,
        *,
        response_elements: dict[str, Any] | None = ...,
    ) -> object: ...


@dataclass
class StandinSummary:
    repos: int = 0
    commits: int = 0
    pulls: int = 0
    issues: int = 0
    github_deployments: int = 0
    servicenow_records: int = 0
    cloudtrail_event_ids: list[str] = field(default_factory=list)
    health_event_arns: list[str] = field(default_factory=list)


class HealthLike(Protocol):
    def add_event(self, event: HealthEventRecord) -> str: ...


def seed_health(scenario: Scenario, now: datetime, health: HealthLike, summary: StandinSummary) -> None:
    """`events` with `source: health` as AWS Health reports them (DescribeEvents and its companions)."""
    for event in scenario.events:
        if not isinstance(event, HealthEvent):
            continue
        record = HealthEventRecord(
            service=event.service_name,
            type_code=event.type_code,
            category=event.category,
            region=event.region or scenario.region,
            start=resolve_time(event.at, now),
            end=resolve_time(event.end, now) if event.end is not None else None,
            status=event.status_code(event.end is not None and event.end.total_seconds() <= 0),
            description=substitute_times(event.message, now),
            account=account_of(scenario),
            availability_zone=event.availability_zone,
            entities=tuple(event.resources),
        )
        summary.health_event_arns.append(health.add_event(record))


def seed_cloudtrail(scenario: Scenario, now: datetime, trail: CloudTrailLike, summary: StandinSummary) -> None:
    for event in trail_events(scenario, as_utc(now)):
        trail.add_event(
            event.event_id,
            event.name,
            event.source,
            event.at,
            event.username,
            event.resources,
            event.parameters,
            aws_region=scenario.region,
            account=account_of(scenario),
            response_elements=event.response,
        )
        summary.cloudtrail_event_ids.append(event.event_id)


def _deployment_commit(scenario: Scenario, deploy: EcsDeploy | LambdaDeploy | CodeDeployDeploy) -> str | None:
    if isinstance(deploy, EcsDeploy):
        return image_sha(deploy.image)
    if isinstance(deploy, CodeDeployDeploy) and deploy.revision and image_sha(f"x:{deploy.revision}"):
        return deploy.revision
    return None  # a Lambda deploy names a version, not a commit


def seed_github(scenario: Scenario, now: datetime, github: GitHubLike, summary: StandinSummary) -> None:
    """Repositories, commits with their merged pulls, deployments with a known sha, and issues."""
    repos = [s.repo for s in scenario.services if s.repo] + [c.repo for c in scenario.commits]
    repos += [t.repo for t in scenario.tickets if isinstance(t, GitHubTicket)]
    for repo in dict.fromkeys(repos):
        github.add_repo(repo)
        summary.repos += 1
    for commit in sorted(scenario.commits, key=lambda c: c.at):
        at = resolve_time(commit.at, now)
        if commit.pr is not None:
            title = commit.message.splitlines()[0]
            github.add_pull(commit.repo, commit.pr, title, at, commit.sha, commit.author)
            summary.pulls += 1
        github.add_commit(commit.repo, commit.sha, commit.message, commit.author, at, commit.pr)
        summary.commits += 1
    for deploy in sorted(scenario.deploys, key=lambda d: d.at):
        service, sha = catalog_service_for(scenario, deploy), _deployment_commit(scenario, deploy)
        if service and service.repo and sha and deploy.at.total_seconds() <= 0:
            environment = service.tags.get("env", "production")
            at = resolve_time(deploy.at, now)
            github.add_deployment(service.repo, sha, environment, at, deploy.actor or DEFAULT_DEPLOYER)
            summary.github_deployments += 1
    for ticket in scenario.tickets:
        if isinstance(ticket, GitHubTicket):
            opened = resolve_time(ticket.opened, now)
            github.add_issue(ticket.repo, ticket.number, substitute_times(ticket.title, now), opened, ticket.labels)
            summary.issues += 1


def servicenow_fields(ticket: ServiceNowTicket, now: datetime) -> dict[str, str]:
    """The ServiceNow record of a ticket (dates `YYYY-MM-DD HH:MM:SS` UTC)."""

    def moment(offset: timedelta) -> str:
        return resolve_time(offset, now).strftime(SERVICENOW_TIME)

    fields = {"number": ticket.number, "short_description": substitute_times(ticket.short_description, now)}
    if ticket.ci:
        fields["cmdb_ci"] = ticket.ci
    if ticket.state:
        fields["state"] = servicenow_state(ticket.table, ticket.state)
    opened = ticket.opened if ticket.opened is not None else ticket.start
    if opened is not None:
        fields["opened_at"] = moment(opened)
    if ticket.start is not None:
        fields["start_date"] = moment(ticket.start)
    if ticket.end is not None:
        fields["end_date"] = moment(ticket.end)
    return fields


def seed_servicenow(scenario: Scenario, now: datetime, servicenow: ServiceNowLike, summary: StandinSummary) -> None:
    for ticket in scenario.tickets:
        if isinstance(ticket, ServiceNowTicket):
            servicenow.add_record(ticket.table, servicenow_fields(ticket, now))
            summary.servicenow_records += 1


def seed_standins(
    scenario: Scenario,
    now: datetime,
    *,
    github: GitHubLike | None = None,
    servicenow: ServiceNowLike | None = None,
    cloudtrail: CloudTrailLike | None = None,
    health: HealthLike | None = None,
) -> StandinSummary:
    """Seed whichever stand-in states are given; returns what was added."""
    now = as_utc(now)
    summary = StandinSummary()
    if github is not None:
        seed_github(scenario, now, github, summary)
    if servicenow is not None:
        seed_servicenow(scenario, now, servicenow, summary)
    if cloudtrail is not None:
        seed_cloudtrail(scenario, now, cloudtrail, summary)
    if health is not None:
        seed_health(scenario, now, health, summary)
    return summary
