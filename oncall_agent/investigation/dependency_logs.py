"""The dependencies' own logs: why a dependency fails is usually written only there. Our errors say "lookup
failed: context deadline exceeded"; the service discovery cluster's own log says "x509: certificate has expired".

For each name in the service's `depends_on` that the catalog declares with log groups, both windows of
`log_window` are read (the line and scan budgets of the logs source shared out among the dependencies), mined into
signatures the same way as our own logs, and kept when they are new or increased errors and warnings. Each item
is marked with the dependency (`details.dependency`) and source `dependency_logs`, so the correlator never mistakes
them for the alarmed service's own lines: they say what is wrong at the dependency (`correlate.dependency_cause`).
"""

from __future__ import annotations

from dataclasses import replace

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Evidence, EvidenceKind
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.log_window import read_window
from oncall_agent.ports import LogSearch

SOURCE = "dependency_logs"
NOISY = ("ERROR", "WARN")
MAX_PER_DEPENDENCY = 8
"""Signatures kept per dependency: the few that say what is wrong there, not its whole log."""


def logged_dependencies(ctx: CorrelationContext) -> list[Service]:
    """The declared dependencies the catalog gives log groups, in `depends_on` order."""
    found = (ctx.catalog_entry(name) for name in ctx.service.depends_on)
    return [entry for entry in found if entry is not None and entry.log_groups]


def _as_dependency(item: Evidence, name: str) -> Evidence:
    details = {**item.details, "dependency": name}
    summary = f"{name}'s own logs: {item.summary}"
    return Evidence(
        kind=item.kind, source=SOURCE, at=item.at, entity=item.entity, summary=summary[:500], details=details
    )


def _signatures(items: list[Evidence], name: str) -> list[Evidence]:
    noisy = [
        e
        for e in items
        if e.kind is EvidenceKind.LOG_SIGNATURE and e.details.get("level") in NOISY and not e.details.get("chronic")
    ]
    return [_as_dependency(e, name) for e in noisy[:MAX_PER_DEPENDENCY]]


def dependency_log_evidence(
    logs: LogSearch | None, ctx: CorrelationContext, region: str, lines: int, scan_budget: float | None
) -> list[Evidence]:
    """New or increased errors and warnings in each logged dependency's own groups (module docstring)."""
    dependencies = logged_dependencies(ctx)
    if not dependencies:
        return []
    if logs is None:
        return [build.gap(SOURCE, "no log reader configured: the dependencies' own logs were not read")]
    share = len(dependencies)
    found: list[Evidence] = []
    for entry in dependencies:
        window = read_window(
            logs,
            region,
            entry.log_groups,
            ctx,
            max(2, lines // share),
            None if scan_budget is None else scan_budget / share,
        )
        mined = build.log_evidence(window.sample, replace(ctx, service=entry), split=window.split)
        found += _signatures(mined, entry.name)
        found += [build.cut(SOURCE, f"{entry.name}: {what}") for what in window.cuts]
    return found
