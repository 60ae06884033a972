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

from oncall_agent.adapters.aws.cloudtrail import CloudTrailChangeHistory, CloudTrailDeployHistory
from oncall_agent.adapters.aws.cloudwatch import CloudWatchAlarmSource
from oncall_agent.adapters.aws.codedeploy_actions import CodeDeployActionExecutor
from oncall_agent.adapters.aws.ecs_actions import EcsActionExecutor
from oncall_agent.adapters.aws.lambda_actions import LambdaActionExecutor
from oncall_agent.adapters.aws.logs import LogsInsightsSearch
from oncall_agent.adapters.aws.metrics import CloudWatchMetricReader
from oncall_agent.adapters.github import GitHubTracker
from oncall_agent.adapters.servicenow import ServiceNowTracker
from oncall_agent.coordination.messages import OutboxMessenger
from oncall_agent.coordination.relay import OutboxRelay
from oncall_agent.investigation.deps import Deps, Limits
from oncall_agent.investigation.graph import build_graph
from oncall_agent.investigation.worker import InvestigationWorker
from oncall_agent.ports import ActionExecutor, Clock, IncidentStore
from oncall_agent.response.approvals import ApprovalService
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


def _trackers(settings: Settings) -> tuple[ServiceNowTracker | None, GitHubTracker | None]:
    integrations = settings.integrations
    tickets = issues = None
    if integrations.servicenow is not None:
        sn = integrations.servicenow
        tickets = ServiceNowTracker(sn.url, sn.user, sn.password.get_secret_value())
    if integrations.github is not None:
        gh = integrations.github
        sandbox = gh.url.startswith("http://127.0.0.1")  # the local stand-in has no write rate limit
        issues = GitHubTracker(gh.url, gh.token.get_secret_value(), write_interval=0.0 if sandbox else 1.0)
    return tickets, issues


def _sources(settings: Settings, client: Callable[[str], Callable[[str], Any]]) -> dict[str, Any]:
    return {
        "metrics": CloudWatchMetricReader(client("cloudwatch")),
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


def _executors(settings: Settings, client: Callable[[str], Callable[[str], Any]]) -> dict[str, Any]:
    region = settings.aws.regions[0]
    executors: list[ActionExecutor] = [
        EcsActionExecutor(client("ecs"), region),
        LambdaActionExecutor(client("lambda"), region),
        CodeDeployActionExecutor(client("codedeploy"), region),
    ]
    return {kind: executor for executor in executors for kind in executor.kinds()}


def build_investigation(
    settings: Settings,
    store: IncidentStore,
    engine: Any,
    clock: Clock,
    client: Callable[[str], Callable[[str], Any]],
    wake_workers: Callable[[], None],
    sleep: Callable[[float], None],
) -> Investigation:
    inv = settings.investigation
    results = SqlInvestigationStore(engine, clock)
    actions = SqlActionStore(engine, clock, ttl=timedelta(minutes=inv.action_ttl_minutes))
    outbox = SqlOutbox(engine, clock)
    tickets, issues = _trackers(settings)
    github = settings.integrations.github
    default_repo = github.repo if github else None
    messenger = OutboxMessenger(
        settings.services, default_repo, servicenow=tickets is not None, github=issues is not None
    )
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
        ),
        tickets=tickets,
        issues=issues,
        executors=_executors(settings, client),
        **_sources(settings, client),
    )
    checkpointer, close_checkpointer = open_checkpointer(settings.store.url)
    graph = build_graph(deps, checkpointer)
    lease = timedelta(seconds=inv.lease_seconds)
    # Unique across replicas: the name is what a claim records.
    me = f"{socket.gethostname()}-{os.getpid()}"
    workers = [InvestigationWorker(deps, graph, f"{me}-worker-{i}", lease) for i in range(inv.workers)]
    relay = OutboxRelay(outbox, tickets, issues, messenger.repo_for_incident(store))
    approvals = ApprovalService(actions, results, messenger.progress, wake_workers)
    return Investigation(deps, graph, workers, relay, approvals, results, actions, outbox, close_checkpointer)


def build_local_approvals(settings: Settings, store: IncidentStore, engine: Any, clock: Clock) -> ApprovalService:
    """Approvals for the CLI: the store and the messenger only (the daemon delivers the echoes)."""
    tickets, issues = settings.integrations.servicenow, settings.integrations.github
    messenger = OutboxMessenger(
        settings.services, issues.repo if issues else None, servicenow=tickets is not None, github=issues is not None
    )
    results = SqlInvestigationStore(engine, clock)
    actions = SqlActionStore(engine, clock, ttl=timedelta(minutes=settings.investigation.action_ttl_minutes))
    return ApprovalService(actions, results, messenger.progress)
