"""Composition of the investigation side: evidence adapters, stores, runbooks, policy, graph, workers, relay.

Part of the composition root (with bootstrap.py): the only other module that picks concrete adapters.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Tracer

from oncall_agent.adapters.aws.aws_events import AwsEventReader
from oncall_agent.adapters.aws.cloudtrail import CloudTrailChangeHistory, CloudTrailDeployHistory
from oncall_agent.adapters.aws.cloudwatch import CloudWatchAlarmSource
from oncall_agent.adapters.aws.logs import LogsInsightsSearch
from oncall_agent.adapters.aws.metrics import CloudWatchMetricReader
from oncall_agent.adapters.aws.sns_pager import SnsPager
from oncall_agent.adapters.aws.topology import AwsTopologyReader
from oncall_agent.adapters.github import GitHubTracker
from oncall_agent.adapters.servicenow import ServiceNowTracker
from oncall_agent.bootstrap_actions import executors
from oncall_agent.bootstrap_llm import build_reasoner, llm_limits
from oncall_agent.coordination.messages import OutboxMessenger
from oncall_agent.coordination.relay import OutboxRelay
from oncall_agent.investigation.deps import Deps, Limits
from oncall_agent.investigation.graph import build_graph
from oncall_agent.investigation.tracing import TRACER_NAME
from oncall_agent.investigation.worker import InvestigationWorker
from oncall_agent.ports import Clock, IncidentStore
from oncall_agent.response.approvals import ApprovalService, ApproverDirectory, directory_from
from oncall_agent.response.change_approvals import ChangeApprovals, change_required
from oncall_agent.response.comment_approvals import CommentApprovals
from oncall_agent.response.expiry import ExpiryReaper
from oncall_agent.response.policy import PolicyEngine
from oncall_agent.response.runbooks import load_runbooks, shipped_runbooks_dir
from oncall_agent.settings import Settings
from oncall_agent.store.actions import SqlActionStore
from oncall_agent.store.checkpoints import open_checkpointer
from oncall_agent.store.investigations import SqlInvestigationStore
from oncall_agent.store.outbox import SqlOutbox


def runbooks_dir(settings: Settings) -> Path:
    if settings.investigation.runbooks_dir:
        return Path(settings.investigation.runbooks_dir)
    return shipped_runbooks_dir()


@dataclass
class Investigation:
    deps: Deps
    graph: Any
    workers: list[InvestigationWorker]
    relay: OutboxRelay
    approvals: ApprovalService
    results: SqlInvestigationStore
    actions: SqlActionStore
    outbox: SqlOutbox
    close: Callable[[], None]
    reaper: ExpiryReaper
    comments: CommentApprovals | None = None  # GitHub comment approvals (GitHub configured)
    changes: ChangeApprovals | None = None  # ServiceNow change approvals (ServiceNow configured)


# The relay's trackers wait out a rate limit only this long; a longer Retry-After becomes a not-before on the
# outbox row, so one rate-limited tracker never holds the relay (the investigation's reads keep 60 s).
RELAY_MAX_RATE_LIMIT_WAIT = 2.0


def _trackers(
    settings: Settings, max_rate_limit_wait: float = 60.0
) -> tuple[ServiceNowTracker | None, GitHubTracker | None]:
    integrations = settings.integrations
    tickets = issues = None
    if integrations.servicenow is not None:
        sn = integrations.servicenow
        tickets = ServiceNowTracker(
            sn.url, sn.user, sn.password.get_secret_value(), max_retry_after=max_rate_limit_wait
        )
    if integrations.github is not None:
        gh = integrations.github
        sandbox = gh.url.startswith("http://127.0.0.1")  # the local stand-in has no write rate limit
        issues = GitHubTracker(
            gh.url,
            gh.token.get_secret_value(),
            write_interval=0.0 if sandbox else 1.0,
            max_rate_limit_wait=max_rate_limit_wait,
        )
    return tickets, issues


TOPOLOGY_APIS = ("ecs", "elbv2", "wafv2", "rds", "resourcegroupstaggingapi", "sqs", "dynamodb", "lambda", "kinesis")
EVENT_APIS = ("rds", "health", "ecs")


def _has_health(settings: Settings) -> bool:
    """AWS Health answers on AWS; a sandbox (an endpoint override) serves it only through its own stand-in."""
    return settings.aws.endpoint_url is None or "health" in settings.aws.service_endpoints


def _sources(settings: Settings, client: Callable[[str], Callable[[str], Any]]) -> dict[str, Any]:
    metrics = CloudWatchMetricReader(client("cloudwatch"))
    return {
        "metrics": metrics,
        "metric_batches": metrics,
        "topology": AwsTopologyReader({api: client(api) for api in TOPOLOGY_APIS}),
        "aws_events": AwsEventReader(
            {api: client(api) for api in EVENT_APIS if api != "health" or _has_health(settings)}
        ),
        "logs": LogsInsightsSearch(client("logs")),
        "deploys": CloudTrailDeployHistory(
            client("cloudtrail"),
            ecs_for_region=client("ecs"),
            lambda_for_region=client("lambda"),
            codedeploy_for_region=client("codedeploy"),
        ),
        "changes": CloudTrailChangeHistory(client("cloudtrail")),
        "alarms": CloudWatchAlarmSource(client("cloudwatch"), with_tags=True),
    }


def build_investigation(
    settings: Settings,
    store: IncidentStore,
    engine: Any,
    clock: Clock,
    client: Callable[[str], Callable[[str], Any]],
    wake_workers: Callable[[], None],
    sleep: Callable[[float], None],
    on_outbox_failed: Callable[[str, str], None] = lambda target, operation: None,
    tracer: Tracer | None = None,
    on_reasoned: Callable[[dict[str, Any]], None] = lambda totals: None,
) -> Investigation:
    inv = settings.investigation
    results = SqlInvestigationStore(engine, clock)
    actions = SqlActionStore(engine, clock, ttl=timedelta(minutes=inv.action_ttl_minutes))
    outbox = SqlOutbox(engine, clock)
    tickets, issues = _trackers(settings)
    github = settings.integrations.github
    default_repo = github.repo if github else None
    messenger = messenger_for(settings, default_repo, servicenow=tickets is not None, github=issues is not None)
    folder = runbooks_dir(settings)
    deps = Deps(
        store=store,
        results=results,
        actions=actions,
        catalog=settings.services,
        default_region=settings.aws.regions[0],
        runbooks=load_runbooks(folder),
        policy=PolicyEngine.from_folder(folder),
        messenger=messenger,
        now=clock.now,
        sleep=sleep,
        limits=Limits(
            lookback_minutes=inv.lookback_minutes,
            log_lines_limit=inv.log_lines_limit,
            abstain_below=inv.abstain_below,
            verify_timeout_seconds=inv.verify_timeout_seconds,
            verify_poll_seconds=inv.verify_poll_seconds,
            action_ttl_minutes=inv.action_ttl_minutes,
            source_timeout_seconds=inv.source_timeout_seconds,
            api_calls_per_source=inv.api_calls_per_source,
            log_scan_bytes=inv.log_scan_gb * 1e9,
            neighbourhood_tag_key=inv.neighbourhood_tag_key,
            list_metrics_pages=inv.list_metrics_pages,
        ),
        tickets=tickets,
        issues=issues,
        executors=executors(settings, store, client),
        tracer=tracer or trace.get_tracer(TRACER_NAME),
        reasoner=build_reasoner(settings),
        llm=llm_limits(settings),
        on_reasoned=on_reasoned,
        **_sources(settings, client),
    )
    checkpointer, close_checkpointer = open_checkpointer(settings.store.url)
    graph = build_graph(deps, checkpointer)
    lease = timedelta(seconds=inv.lease_seconds)
    # Unique across replicas: the name is what a claim records.
    me = f"{socket.gethostname()}-{os.getpid()}"
    workers = [InvestigationWorker(deps, graph, f"{me}-worker-{i}", lease) for i in range(inv.workers)]
    relay_tickets, relay_issues = _trackers(settings, RELAY_MAX_RATE_LIMIT_WAIT)
    relay = OutboxRelay(
        outbox,
        relay_tickets,
        relay_issues,
        messenger.repo_for_incident(store),
        owner=f"{me}-relay",
        on_failed=on_outbox_failed,
        pager=SnsPager(client("sns"), topic) if (topic := settings.escalation.sns_topic_arn) else None,
    )
    # Without ServiceNow no change can be opened: such actions are then approved like any other.
    needs_change = change_required(deps.runbooks, settings.approvals.change_for_high_risk)
    approvals = ApprovalService(
        actions,
        results,
        messenger.progress,
        approver_directory(settings),
        wake_workers,
        needs_change if relay_tickets is not None else lambda _action: False,
    )
    reaper = ExpiryReaper(actions, messenger.progress, messenger.closed, wake_workers)
    comments = None
    if relay_issues is not None:  # its short rate-limit wait suits a webhook that GitHub waits 10 s for
        comments = CommentApprovals(
            approvals,
            outbox,
            relay_issues.permission,
            relay_issues.login,
            settings.approvals.github_users,
            settings.approvals.github_min_permission,
            settings.approvals.github_teams,
            relay_issues.team_member,
        )
    changes = None
    if relay_tickets is not None:
        changes = ChangeApprovals(
            store,
            actions,
            outbox,
            approvals,
            relay_tickets,
            needs_change,
            settings.approvals.servicenow_users,
            messenger.progress,
        )
    return Investigation(
        deps,
        graph,
        workers,
        relay,
        approvals,
        results,
        actions,
        outbox,
        close_checkpointer,
        reaper=reaper,
        comments=comments,
        changes=changes,
    )


def build_local_approvals(settings: Settings, store: IncidentStore, engine: Any, clock: Clock) -> ApprovalService:
    """Approvals for the CLI: the store and the messenger only (the daemon delivers the echoes)."""
    tickets, issues = settings.integrations.servicenow, settings.integrations.github
    messenger = messenger_for(
        settings, issues.repo if issues else None, servicenow=tickets is not None, github=issues is not None
    )
    results = SqlInvestigationStore(engine, clock)
    actions = SqlActionStore(engine, clock, ttl=timedelta(minutes=settings.investigation.action_ttl_minutes))
    needs_change = change_required(load_runbooks(runbooks_dir(settings)), settings.approvals.change_for_high_risk)
    return ApprovalService(
        actions,
        results,
        messenger.progress,
        approver_directory(settings),
        needs_change=needs_change if tickets is not None else lambda _action: False,
    )


def messenger_for(settings: Settings, repo: str | None, *, servicenow: bool, github: bool) -> OutboxMessenger:
    """The ticket/issue writer with who escalations reach (settings `escalation`) and the console's URL."""
    return OutboxMessenger(
        settings.services,
        repo,
        servicenow=servicenow,
        github=github,
        groups=settings.escalation.servicenow_groups,
        assignees=settings.escalation.github_assignees,
        console_url=settings.console.base_url,
        paging=settings.escalation.sns_topic_arn is not None,
    )


def approver_directory(settings: Settings) -> ApproverDirectory:
    """Who may decide which actions: settings `approvals` (see response.approvals)."""
    section = settings.approvals
    return directory_from(
        {
            name: (person.token.get_secret_value() if person.token else None, person.groups)
            for name, person in section.approvers.items()
        },
        {name: token.get_secret_value() for name, token in section.tokens.items()},
        section.default_groups,
    )
