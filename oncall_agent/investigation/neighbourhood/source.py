"""The `neighbourhood` evidence source: explore, walk and describe (the limits resources carry), plan the
golden-signal series of every resource found, read them in ONE batched GetMetricData request (at most MAX_SERIES
series), find change points and limit crossings, and say what was looked at. Evidence shapes: see
neighbourhood.evidence."""

from __future__ import annotations

from collections import Counter

from oncall_agent.domain.alarm import MetricSpec
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Evidence
from oncall_agent.domain.neighbourhood import BEHIND, FRONT, SELF, Resource
from oncall_agent.domain.records import MetricQuery
from oncall_agent.investigation.correlate import evidence as build
from oncall_agent.investigation.correlate.context import CorrelationContext
from oncall_agent.investigation.neighbourhood.evidence import SOURCE, looked_at, series_evidence
from oncall_agent.investigation.neighbourhood.explore import (
    ExploreSettings,
    account_of,
    describe_resources,
    explore,
)
from oncall_agent.investigation.neighbourhood.golden_signals import profiles_for
from oncall_agent.investigation.neighbourhood.signal_model import PlannedSeries, missing_fields, plan_series
from oncall_agent.investigation.neighbourhood.walk import build as walk
from oncall_agent.ports import MetricBatchReader, TopologyReader

MAX_SERIES = 500
"""One GetMetricData request's worth of queries: the whole neighbourhood is read in one call."""
PERIOD = 60
_ORDER = {SELF: 0, FRONT: 1, BEHIND: 2}  # what is cut first when there are too many series: dependencies


MAX_LISTED_VARIANTS = 8
"""Per resource: how many more series ListMetrics reported for its golden signals under other dimension sets
(a WAF rule's own BlockedRequests beside the web ACL's `Rule=ALL`, a target group per load balancer)."""


def _listed_variants(resource: Resource, planned: list[PlannedSeries], listed: list[MetricSpec]) -> list[PlannedSeries]:
    """Golden-signal series of `resource` that ListMetrics reported with dimensions the table does not template:
    same namespace and metric, the resource's own dimension value, another dimension set."""
    known = {(p.metric.name, tuple(sorted(p.metric.dimensions.items()))) for p in planned}
    by_metric = {(p.metric.namespace, p.metric.name): p for p in planned}
    found: list[PlannedSeries] = []
    for spec in listed:
        template = by_metric.get((spec.namespace, spec.name))
        if template is None or resource.id not in spec.dimensions.values():
            continue
        if (spec.name, tuple(sorted(spec.dimensions.items()))) in known or len(found) >= MAX_LISTED_VARIANTS:
            continue
        metric = template.metric.model_copy(update={"dimensions": dict(spec.dimensions)})
        found.append(PlannedSeries(template.profile, template.signal, metric, template.limit))
        known.add((spec.name, tuple(sorted(spec.dimensions.items()))))
    return found


def plan(
    resources: list[Resource], region: str, account: str | None, listed: list[MetricSpec] | None = None
) -> tuple[list[tuple[Resource, PlannedSeries]], list[str]]:
    """Every golden-signal series of every resource, nearest to the service first, with the variants
    ListMetrics reported (`_listed_variants`); and why a resource of a known type has none (a dimension it
    cannot fill)."""
    planned: list[tuple[Resource, PlannedSeries]] = []
    unreadable: list[str] = []
    for resource in sorted(resources, key=lambda r: _ORDER.get(r.role, 3)):
        series: list[PlannedSeries] = []
        for profile in profiles_for(resource.type):
            series += plan_series(profile, resource.id, resource.attributes, region, account, PERIOD)
            missing = missing_fields(profile, resource.id, resource.attributes, region, account)
            if missing and not series:
                unreadable.append(
                    f"{resource.type} {resource.id}: {profile.namespace} needs {', '.join(sorted(missing))}"
                )
        series += _listed_variants(resource, series, listed or [])
        planned += [(resource, s) for s in series]
    return planned, unreadable


def neighbourhood_evidence(
    service: Service,
    catalog: list[Service],
    region: str,
    topology: TopologyReader | None,
    metrics: MetricBatchReader | None,
    settings: ExploreSettings,
    ctx: CorrelationContext,
) -> list[Evidence]:
    reports = explore(service, catalog, region, topology, metrics, settings)
    found = describe_resources(walk(service, catalog, reports), region, topology)
    planned, unreadable = plan(found.resources, region, account_of(service, reports), reports.metrics)
    gaps = [build.gap(SOURCE, line) for line in [*found.gaps, *unreadable]]
    if len(planned) > MAX_SERIES:
        gaps.append(build.cut(SOURCE, f"{len(planned) - MAX_SERIES} of {len(planned)} golden-signal series not read"))
        planned = planned[:MAX_SERIES]
    items: list[Evidence] = []
    if metrics is not None and planned:
        queries = [MetricQuery(metric=p.metric, stat=p.signal.stat, period=PERIOD) for _, p in planned]
        batch = metrics.get_many(region, queries, ctx.window_start, ctx.now)
        for index, ((resource, series_plan), series) in enumerate(zip(planned, batch.series, strict=True)):
            if index in batch.failed:
                gaps.append(build.gap(SOURCE, f"{series_plan.metric.name} of {resource.id}: {batch.failed[index]}"))
                continue
            item = series_evidence(resource, series_plan, series, ctx)
            if item is not None:
                items.append(item)
    counts = Counter(resource.key for resource, _ in planned)
    return [
        looked_at(found.model_copy(update={"gaps": [g.summary for g in gaps]}), counts, len(planned)),
        *items,
        *gaps,
    ]
