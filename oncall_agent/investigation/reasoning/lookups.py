"""The model's read-only tools: Logs Insights samples of a service's log groups, the golden signals of a
service's neighbourhood, a service's deployments and GitHub commits, CloudTrail writes on one resource, a
service's past incidents, and what one commit or pull request of a service's repository changed. Each runs
through the existing ports and evidence builders, within the time left and the per-source API-call budget;
targets are limited to the incident's service and its neighbours in the catalog. Whatever happens is evidence
or a gap."""

from __future__ import annotations

import concurrent.futures
import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from oncall_agent.domain.budget import CallMeter, metered
from oncall_agent.domain.evidence import Evidence, EvidenceKind
from oncall_agent.domain.reasoning import Lookup
from oncall_agent.domain.records import ChangeSummary, change_ref
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.sources import context_from_scope, gather_one

# `deploys`: what AWS deployed for the service and its repository's GitHub commits and deployments.
SOURCE_OF = {"logs": "logs", "neighbourhood_metrics": "neighbourhood", "deploys": "deploys", "past_incidents": "memory"}
CLOUDTRAIL_LOOKBACK = timedelta(hours=24)  # a resource's writes from a day before the window: slow-burning changes
CLOUDTRAIL_ITEMS = 20
RunLookup = Callable[[Lookup, float], list[Evidence]]


def neighbours(deps: Deps, service: str) -> list[str]:
    """The service, what it depends on and what depends on it, as named in the catalog."""
    own = deps.service(service)
    callers = [s.name for s in deps.catalog if service in s.depends_on]
    return list(dict.fromkeys([own.name, *own.depends_on, *callers]))


def _lookup_gap(request: Lookup, summary: str, gap: str) -> Evidence:
    return Evidence(
        kind=EvidenceKind.GAP,
        source="llm",
        entity=request.target[:200],
        summary=summary,
        details={"gap": gap, "tool": request.tool},
    )


def refused(request: Lookup, why: str) -> Evidence:
    return _lookup_gap(request, f"lookup {request.tool} {request.target[:200]!r} not run: {why}", "lookup_refused")


def _writes_on(deps: Deps, scope: dict[str, Any], target: str) -> list[Evidence]:
    if deps.changes is None:
        return [build.gap("changes", "no change history (CloudTrail) configured")]
    ctx = context_from_scope(deps, scope)
    start = datetime.fromisoformat(scope["window_start"]) - CLOUDTRAIL_LOOKBACK
    records = deps.changes.changes(scope["region"], start, ctx.now)
    mine = [r for r in records if any(target in res for res in r.resources) or target in str(r.parameters)]
    return build.change_evidence(mine, ctx)[-CLOUDTRAIL_ITEMS:]


def _bounded(
    deps: Deps, tool: str, source: str, seconds: float, work: Callable[[], list[Evidence]], what: str
) -> list[Evidence]:
    """`work` charged to its own per-source API-call budget (`llm.<tool>`) and given `seconds`: a timeout or a
    failure is a gap of `source`, never a failed investigation. One still running is abandoned, not waited for."""
    meter = CallMeter(f"llm.{tool}", deps.limits.api_calls_per_source)

    def run() -> list[Evidence]:
        with metered(meter):
            return work()

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lookup")
    try:
        return pool.submit(run).result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        return [build.gap(source, f"{what} still running after {seconds:.1f} s")]
    except Exception as exc:  # noqa: BLE001 - a failed lookup is a gap, never a failed investigation
        return [build.gap(source, f"{what}: {type(exc).__name__}: {str(exc)[:200]}")]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _cloudtrail(deps: Deps, scope: dict[str, Any], target: str, seconds: float) -> list[Evidence]:
    def work() -> list[Evidence]:
        return _writes_on(deps, scope, target)

    return _bounded(deps, "cloudtrail", "changes", seconds, work, f"CloudTrail lookup on {target[:200]}")


def change_evidence(service: str, change: ChangeSummary) -> Evidence:
    """One `change_summary` item: title, author, file count and lines in the summary, the record in details
    (title, body and file names are the repository's text: untrusted, quoted as such in the prompt)."""
    name = change.ref[:7] if change.kind == "commit" else change.ref
    state = f" ({change.state})" if change.state else ""
    summary = (
        f"{change.kind} {name}{state} of {change.repo} by {change.author or 'unknown'}: {change.title[:200]!r}; "
        f"{change.changed_files} file(s), +{change.additions}/-{change.deletions} lines"
    )
    return Evidence(
        kind=EvidenceKind.CHANGE_SUMMARY,
        source="github",
        at=change.at,
        entity=f"{change.repo}@{change.ref}",
        summary=summary[:500],
        details={"service": service, **change.model_dump(mode="json")},
        link=change.url,
    )


def _change_summary(deps: Deps, allowed: list[str], request: Lookup, seconds: float) -> list[Evidence]:
    """`<service>@<ref>` or `<ref>` (the incident's service): a commit sha or pull request of the service's
    repository, as its catalog entry names it."""
    named, _, ref = request.target.rpartition("@")
    service = named.strip() or allowed[0]
    if service not in allowed:
        return [refused(request, f"not the incident's service or a neighbour ({', '.join(allowed)})")]
    repo = deps.service(service).repo
    if not repo:
        return [refused(request, f"the catalog names no repository for {service}")]
    try:
        change_ref(ref)
    except ValueError as exc:
        return [refused(request, str(exc))]
    if deps.issues is None:
        return [build.gap("github", "no GitHub configured")]
    issues = deps.issues

    def read() -> list[Evidence]:
        found = issues.change_summary(repo, ref)
        return [change_evidence(service, found) if found else _not_found(request, repo, ref)]

    return _bounded(deps, "change_summary", "github", seconds, read, f"change summary of {repo}@{ref[:60]}")


def _not_found(request: Lookup, repo: str, ref: str) -> Evidence:
    summary = f"lookup {request.tool}: {repo} has no commit or pull request {ref[:60]!r}"
    return _lookup_gap(request, summary, "lookup_not_found")


def make_lookup(deps: Deps, scope: dict[str, Any]) -> RunLookup:
    allowed = neighbours(deps, scope["service"])

    def run(request: Lookup, seconds: float) -> list[Evidence]:
        if request.tool == "cloudtrail":
            return _cloudtrail(deps, scope, request.target, seconds)
        if request.tool == "change_summary":
            return _change_summary(deps, allowed, request, seconds)
        if request.target not in allowed:
            return [refused(request, f"not the incident's service or a neighbour ({', '.join(allowed)})")]
        limits = dataclasses.replace(deps.limits, source_timeout_seconds=max(0.1, seconds))
        found = gather_one(
            dataclasses.replace(deps, limits=limits), SOURCE_OF[request.tool], {**scope, "service": request.target}
        )
        return found.evidence

    return run
