"""One function per evidence source: read through a port, turn records into Evidence with the correlator's
builders. A source that is not configured or fails becomes a `gap` item saying what could not be checked."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from oncall_agent.domain.alarm import MetricSpec
from oncall_agent.domain.budget import CallBudgetExceeded, CallMeter, metered
from oncall_agent.domain.evidence import Evidence, EvidenceKind
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.domain.records import TicketRecord
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.dependency_logs import dependency_log_evidence
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.log_window import read_window
from oncall_agent.investigation.neighbourhood.explore import ExploreSettings
from oncall_agent.investigation.neighbourhood.feeds import event_evidence
from oncall_agent.investigation.neighbourhood.source import neighbourhood_evidence
from oncall_agent.investigation.tracing import mark_failed, source_span

KNOWN_ISSUES = timedelta(days=90)
"""How far back the service repository's issues are read: the known problems a new error signature may match."""


def context_from_scope(deps: Deps, scope: dict[str, Any]) -> CorrelationContext:
    metric = scope.get("metric")
    return CorrelationContext(
        service=deps.service(scope["service"]),
        catalog=deps.catalog,
        alarm_name=scope["alarm_name"],
        alarm_metric=MetricSpec.model_validate(metric) if metric else None,
        onset=datetime.fromisoformat(scope["onset"]),
        window_start=datetime.fromisoformat(scope["window_start"]),
        now=datetime.fromisoformat(scope["now"]),
        alarm_description=str(scope.get("alarm_description") or ""),
    )


def _metrics(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    if deps.metrics is None or ctx.alarm_metric is None or not ctx.alarm_metric.stat:
        return [build.gap("metrics", "no metric reader configured or the alarm has no single metric")]
    metric = ctx.alarm_metric
    series = deps.metrics.get_series(
        region, metric, metric.stat or "Average", metric.period or 60, ctx.window_start, ctx.now
    )
    return build.metric_evidence(series, ctx)


def _logs(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    if deps.logs is None or not ctx.service.log_groups:
        return [build.gap("logs", f"no log groups configured for {ctx.service.name}")]
    groups, lines = ctx.service.log_groups, deps.limits.log_lines_limit
    window = read_window(deps.logs, region, groups, ctx, lines, deps.limits.log_scan_bytes)
    return [
        *build.log_evidence(window.sample, ctx, split=window.split),
        *(build.cut("logs", what) for what in window.cuts),
    ]


def _dependency_logs(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    return dependency_log_evidence(deps.logs, ctx, region, deps.limits.log_lines_limit, deps.limits.log_scan_bytes)


def _deploys(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    if deps.deploys is None:
        return [build.gap("deploys", "no deploy history configured")]
    # One unit per backend: a GitHub outage must not throw away the ECS/Lambda/CodeDeploy history read from AWS.
    aws = deps.deploys
    parts = [
        per_backend(
            "deploys", "AWS deploy history", lambda: aws.deploys(region, ctx.service, ctx.window_start, ctx.now)
        )
    ]
    if deps.issues is not None and ctx.service.repo:
        issues, repo = deps.issues, ctx.service.repo
        parts.append(
            per_backend(
                "deploys",
                f"GitHub commits and deployments of {repo}",
                lambda: [
                    *issues.commits(repo, ctx.window_start, ctx.now),
                    *issues.deployments(repo, ctx.window_start, ctx.now),
                ],
            )
        )
    return _joined(parts, lambda records: build.deploy_evidence(records, ctx))


def _changes(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    if deps.changes is None:
        return [build.gap("changes", "no change history (CloudTrail) configured")]
    return build.change_evidence(deps.changes.changes(region, ctx.window_start, ctx.now), ctx)


def _alarms(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    if deps.alarms is None:
        return [build.gap("alarms", "no alarm reader configured")]
    return build.related_alarm_evidence(deps.alarms.snapshots(region), ctx)


def _tickets(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    parts = []
    if deps.tickets is not None and ctx.service.servicenow_ci:
        tickets, ci = deps.tickets, ctx.service.servicenow_ci
        parts.append(
            per_backend(
                "tickets",
                f"ServiceNow change requests on {ci}",
                lambda: tickets.change_requests(ci, ctx.window_start, ctx.now),
            )
        )
    if deps.issues is not None and ctx.service.repo:
        issues, repo = deps.issues, ctx.service.repo

        def github_issues() -> list[TicketRecord]:
            found = [*issues.search_issues(repo, ctx.alarm_name), *issues.recent_issues(repo, ctx.now - KNOWN_ISSUES)]
            return list({record.number: record for record in found}.values())

        parts.append(per_backend("tickets", f"GitHub issues of {repo}", github_issues))
    return _joined(parts, lambda records: build.ticket_evidence(records, ctx))


T = TypeVar("T")


@dataclass(frozen=True)
class Part(Generic[T]):
    """What one backend of a source read, or the gap its failure left."""

    records: list[T]
    gap: Evidence | None = None


def per_backend(source: str, backend: str, read: Callable[[], list[T]]) -> Part[T]:
    """Read one backend of a multi-backend source; its failure becomes its own gap, never the whole source's.
    A refused API call is not one: the source's meter reports it once for the source (`_run_metered`)."""
    try:
        return Part(read())
    except CallBudgetExceeded:
        return Part([])
    except Exception as exc:  # noqa: BLE001 - one backend down is a gap; the other backends' evidence stands
        return Part([], build.gap(source, f"{backend}: {type(exc).__name__}: {str(exc)[:300]}"))


def _joined(parts: list[Part[T]], to_evidence: Callable[[list[T]], list[Evidence]]) -> list[Evidence]:
    records = [record for part in parts for record in part.records]
    return [*to_evidence(records), *(part.gap for part in parts if part.gap is not None)]


def _memory(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    past = [
        i
        for i in deps.store.list_incidents([IncidentStatus.CLOSED, IncidentStatus.RESOLVED])
        if i.service == ctx.service.name and i.resolution is not None
    ]
    return build.past_incident_evidence(past, ctx)


def _neighbourhood(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    settings = ExploreSettings(deps.limits.neighbourhood_tag_key, deps.limits.list_metrics_pages)
    return neighbourhood_evidence(ctx.service, ctx.catalog, region, deps.topology, deps.metric_batches, settings, ctx)


def _events(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    return event_evidence(ctx.service, ctx.catalog, region, deps.aws_events, ctx)


SOURCES: dict[str, Callable[[Deps, CorrelationContext, str], list[Evidence]]] = {
    "metrics": _metrics,
    "logs": _logs,
    "dependency_logs": _dependency_logs,
    "deploys": _deploys,
    "changes": _changes,
    "alarms": _alarms,
    "tickets": _tickets,
    "memory": _memory,
    "neighbourhood": _neighbourhood,
    "events": _events,
}


# Sources run here, not on LangGraph's branch thread, so a branch can stop waiting at its budget. A source past its
# budget keeps its worker until its own client timeouts end it; the pool is sized for that.
_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="evidence-source")


@dataclass(frozen=True)
class Gathered:
    evidence: list[Evidence]
    api_calls: int  # attempts the source sent (what its budget counted); those still running at a timeout too


def _run_metered(meter: CallMeter, deps: Deps, name: str, scope: dict[str, Any]) -> list[Evidence]:
    with metered(meter):
        found = SOURCES[name](deps, context_from_scope(deps, scope), scope["region"])
    if meter.refused:  # the adapters kept what they had read before the budget refused a call
        found.append(build.cut(name, f"API-call budget of {meter.limit} used up; {meter.refused} call(s) not made"))
    return found


def gather_one(deps: Deps, name: str, scope: dict[str, Any]) -> Gathered:
    """Run one source within its time and API-call budgets; a failure or an overrun is recorded as a gap, never
    raised."""
    seconds = deps.limits.source_timeout_seconds
    meter = CallMeter(name, deps.limits.api_calls_per_source)
    with source_span(deps.tracer, name) as span:
        # The source's thread runs in this context: its log lines carry the trace, its spans nest under this one.
        future = _POOL.submit(contextvars.copy_context().run, _run_metered, meter, deps, name, scope)
        try:
            found = future.result(timeout=seconds)
        except FutureTimeout:
            future.cancel()
            found = [build.gap(name, f"not checked: still running after the {seconds:g} s budget for one source")]
        except CallBudgetExceeded as exc:
            found = [build.cut(name, f"{exc} (nothing read)")]
        except Exception as exc:  # noqa: BLE001 - a broken source is evidence of a gap, not a failed investigation
            found = [build.gap(name, f"{type(exc).__name__}: {str(exc)[:300]}")]
        gaps = [item.summary for item in found if item.kind == EvidenceKind.GAP]
        span.set_attributes({"oncall.evidence.count": len(found), "oncall.api_calls": meter.total})
        if gaps:
            mark_failed(span, gaps[0])
    return Gathered(found, meter.total)
