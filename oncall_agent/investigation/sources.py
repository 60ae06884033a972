"""One function per evidence source: read through a port, turn records into Evidence with the correlator's
builders. A source that is not configured or fails becomes a `gap` item saying what could not be checked."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from oncall_agent.domain.alarm import MetricSpec
from oncall_agent.domain.budget import CallBudgetExceeded, CallMeter, ScanBudgetExceeded, metered
from oncall_agent.domain.evidence import Evidence
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.domain.records import LogSample
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.correlate.signals import INCIDENT_WINDOW
from oncall_agent.investigation.deps import Deps

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
    # Two bounded samples, half the line budget each: the newest lines alone would leave a busy service without a
    # baseline, and then nothing could be called new. The incident window is read first: when the scan budget
    # runs out, the baseline is what is lost.
    groups, split, half = ctx.service.log_groups, ctx.onset - INCIDENT_WINDOW, max(1, deps.limits.log_lines_limit // 2)
    scan_budget = deps.limits.log_scan_bytes
    after = deps.logs.sample(region, groups, split, ctx.now, half, scan_budget)
    left = None if scan_budget is None else scan_budget - after.bytes_scanned
    cuts = [f"only the newest {half} lines since {iso_minute(split)} were mined"] if after.truncated else []
    before = LogSample(records=[], truncated=True)  # no baseline read: nothing can be called new
    if left is not None and left <= 0:
        cuts.append(f"baseline not read: the incident window alone scanned {after.bytes_scanned:,.0f} bytes")
    else:
        try:
            before = deps.logs.sample(region, groups, ctx.window_start, split, half, left)
        except ScanBudgetExceeded as exc:
            cuts.append(f"baseline not read: {exc}")
        if before.truncated and before.records:
            cuts.append(f"only the newest {half} baseline lines before {iso_minute(split)} were mined")
    sample = LogSample(
        records=[*before.records, *after.records],
        truncated=before.truncated or after.truncated,
        bytes_scanned=before.bytes_scanned + after.bytes_scanned,
    )
    return [*build.log_evidence(sample, ctx, split=split), *(build.cut("logs", what) for what in cuts)]


def iso_minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _deploys(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    if deps.deploys is None:
        return [build.gap("deploys", "no deploy history configured")]
    records = deps.deploys.deploys(region, ctx.service, ctx.window_start, ctx.now)
    if deps.issues is not None and ctx.service.repo:
        repo = ctx.service.repo
        records = [
            *records,
            *deps.issues.commits(repo, ctx.window_start, ctx.now),
            *deps.issues.deployments(repo, ctx.window_start, ctx.now),
        ]
    return build.deploy_evidence(records, ctx)


def _changes(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    if deps.changes is None:
        return [build.gap("changes", "no change history (CloudTrail) configured")]
    return build.change_evidence(deps.changes.changes(region, ctx.window_start, ctx.now), ctx)


def _alarms(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    if deps.alarms is None:
        return [build.gap("alarms", "no alarm reader configured")]
    return build.related_alarm_evidence(deps.alarms.snapshots(region), ctx)


def _tickets(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    records = []
    if deps.tickets is not None and ctx.service.servicenow_ci:
        records += deps.tickets.change_requests(ctx.service.servicenow_ci, ctx.window_start, ctx.now)
    if deps.issues is not None and ctx.service.repo:
        repo = ctx.service.repo
        found = [
            *deps.issues.search_issues(repo, ctx.alarm_name),
            *deps.issues.recent_issues(repo, ctx.now - KNOWN_ISSUES),
        ]
        records += list({record.number: record for record in found}.values())
    return build.ticket_evidence(records, ctx)


def _memory(deps: Deps, ctx: CorrelationContext, region: str) -> list[Evidence]:
    past = [
        i
        for i in deps.store.list_incidents([IncidentStatus.CLOSED, IncidentStatus.RESOLVED])
        if i.service == ctx.service.name and i.resolution is not None
    ]
    return build.past_incident_evidence(past, ctx)


SOURCES: dict[str, Callable[[Deps, CorrelationContext, str], list[Evidence]]] = {
    "metrics": _metrics,
    "logs": _logs,
    "deploys": _deploys,
    "changes": _changes,
    "alarms": _alarms,
    "tickets": _tickets,
    "memory": _memory,
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
    future = _POOL.submit(_run_metered, meter, deps, name, scope)
    try:
        found = future.result(timeout=seconds)
    except FutureTimeout:
        future.cancel()
        found = [build.gap(name, f"not checked: still running after the {seconds:g} s budget for one source")]
    except CallBudgetExceeded as exc:
        found = [build.cut(name, f"{exc} (nothing read)")]
    except Exception as exc:  # noqa: BLE001 - a broken source is evidence of a gap, not a failed investigation
        found = [build.gap(name, f"{type(exc).__name__}: {str(exc)[:300]}")]
    return Gathered(found, meter.total)
