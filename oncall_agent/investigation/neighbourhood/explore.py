"""Ask AWS what surrounds a service (the I/O half of the walk; walk.build is the pure half).

Order, so each step can follow the links the previous one reported: tagged resources of the service and its
dependencies (one Tagging API query), the target groups ECS reports on each ECS service, their load balancers,
the WAF web ACL of each load balancer, the targets of each RDS proxy; alongside that chain, ListMetrics per
golden-signal namespace. Every failed call becomes one line in `reports.gaps` naming the API and the error;
nothing raises.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.neighbourhood import Neighbourhood, Resource, resource_from_arn
from oncall_agent.investigation.neighbourhood.golden_signals import namespaces
from oncall_agent.investigation.neighbourhood.walk import LB, PROXY, TG, AwsReports, dependency_services, short_id
from oncall_agent.ports import MetricBatchReader, TopologyReader

_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="neighbourhood")
"""ListMetrics per namespace and the chain of topology links run side by side: one investigation's exploration
takes about as long as its slowest chain, not the sum of its calls."""


@dataclass(frozen=True)
class ExploreSettings:
    tag_key: str = "service"
    list_metrics_pages: int = 1  # per namespace: 500 metrics a page


def _attempt(reports: AwsReports, api: str, call: Callable[[], None]) -> None:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - one unreadable link is a gap, not a failed walk
        reports.gaps.append(f"{api}: {type(exc).__name__}: {str(exc)[:200]}")


def account_of(service: Service, reports: AwsReports) -> str | None:
    """The service's account: from the catalog, else from any ARN AWS reported."""
    if service.account:
        return service.account
    arns = [a for arns in [*reports.tagged.values(), *reports.target_groups.values()] for a in arns]
    arns += [a for lbs in reports.load_balancers.values() for a in lbs]
    return next(
        (a.split(":")[4] for a in arns if a.startswith("arn:") and len(a.split(":")) > 4 and a.split(":")[4]), None
    )


# Tags that name a deployment environment: a resource tagged for the service in another environment (its staging
# load balancer) is not on the path of the service that alarmed.
ENVIRONMENT_TAGS = ("env", "environment", "stage")


def _environments(owners: list[Service]) -> dict[str, dict[str, str]]:
    return {o.name: {k: v for k, v in o.tags.items() if k.lower() in ENVIRONMENT_TAGS} for o in owners if o.tags}


def _links(topology: TopologyReader, owners: list[Service], region: str, reports: AwsReports, key: str) -> None:
    _attempt(
        reports,
        "tagging GetResources",
        lambda: reports.tagged.update(topology.tagged(region, key, [o.name for o in owners], _environments(owners))),
    )
    for owner in owners:
        if owner.ecs is not None:

            def read_service(owner: Service = owner) -> None:
                assert owner.ecs is not None
                reports.target_groups[owner.name] = topology.ecs_target_groups(
                    region, owner.ecs.cluster, owner.ecs.service
                )

            _attempt(reports, f"ecs DescribeServices {owner.ecs.service}", read_service)
        if owner.lambda_ is not None:

            def read_function(owner: Service = owner) -> None:
                assert owner.lambda_ is not None
                reports.lambda_links[owner.name] = topology.lambda_links(region, owner.lambda_.function)

            _attempt(reports, f"lambda event sources {owner.lambda_.function}", read_function)
    groups = [tg for o in owners if o.ecs for tg in o.ecs.target_groups] + [
        tg for tgs in reports.target_groups.values() for tg in tgs
    ]
    groups += [arn for arns in reports.tagged.values() for arn in arns if (resource_from_arn(arn) or ("",))[0] == TG]
    groups += [r.id for o in owners for r in o.resources if r.type == TG]
    if groups:

        def read_groups() -> None:
            found = topology.load_balancers(region, list(dict.fromkeys(groups)))
            reports.load_balancers.update({short_id(tg): lbs for tg, lbs in found.items()})

        _attempt(reports, "elbv2 DescribeTargetGroups", read_groups)


def _balancer_arns(owners: list[Service], reports: AwsReports, region: str, account: str | None) -> list[str]:
    arns = [lb for lbs in reports.load_balancers.values() for lb in lbs]
    arns += [a for tagged in reports.tagged.values() for a in tagged if (resource_from_arn(a) or ("",))[0] == LB]
    declared = [r.id for o in owners for r in o.resources if r.type == LB]
    if declared and account is None:
        reports.gaps.append("wafv2: the account is unknown, so the declared load balancers' ARNs are too")
    arns += [f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/{lb}" for lb in declared if account]
    return list(dict.fromkeys(arns))


def _edges_and_proxies(topology: TopologyReader, owners: list[Service], region: str, reports: AwsReports) -> None:
    for arn in _balancer_arns(owners, reports, region, account_of(owners[0], reports)):

        def read_acl(arn: str = arn) -> None:
            acl = topology.web_acl(region, arn)
            if acl:
                reports.web_acls[short_id(arn)] = acl

        _attempt(reports, f"wafv2 GetWebACLForResource {short_id(arn)}", read_acl)
    proxies = [r.id for o in owners for r in o.resources if r.type == PROXY]
    proxies += [t[1] for a in reports.tagged.values() for t in map(resource_from_arn, a) if t and t[0] == PROXY]
    for proxy in dict.fromkeys(proxies):

        def read_targets(proxy: str = proxy) -> None:
            reports.proxy_targets[proxy] = topology.proxy_targets(region, proxy)

        _attempt(reports, f"rds DescribeDBProxyTargets {proxy}", read_targets)


def _list_one(metrics: MetricBatchReader, region: str, reports: AwsReports, pages: int, namespace: str) -> None:
    def read() -> None:
        listing = metrics.list_metrics(region, namespace, pages)
        reports.metrics.extend(listing.metrics)
        if listing.truncated:
            reports.gaps.append(f"cloudwatch ListMetrics {namespace}: only the first {pages} page(s) were read")

    _attempt(reports, f"cloudwatch ListMetrics {namespace}", read)


def _all_at_once(jobs: list[Callable[[], None]]) -> None:
    """Run independent reads side by side, each in a copy of this context (the source's API-call meter is a
    context variable: calls made on the pool's threads are charged to it too)."""
    futures = [_POOL.submit(contextvars.copy_context().run, job) for job in jobs]
    for future in futures:
        future.result()


def explore(
    service: Service,
    catalog: list[Service],
    region: str,
    topology: TopologyReader | None,
    metrics: MetricBatchReader | None,
    settings: ExploreSettings,
) -> AwsReports:
    """Everything AWS reports around `service` and its dependencies; what could not be read is in `gaps`."""
    reports = AwsReports()
    owners = [service, *dependency_services(service, catalog)]
    jobs: list[Callable[[], None]] = []
    if topology is None:
        reports.gaps.append(
            "no topology reader configured: links AWS reports (ECS, ELB, WAF, RDS proxy, tags) not read"
        )
    else:
        links = topology

        def follow_links() -> None:  # each step follows the links the previous one reported
            _links(links, owners, region, reports, settings.tag_key)
            _edges_and_proxies(links, owners, region, reports)

        jobs.append(follow_links)
    if metrics is None:
        reports.gaps.append("no metric reader configured: ListMetrics not read")
    else:
        jobs += [partial(_list_one, metrics, region, reports, settings.list_metrics_pages, ns) for ns in namespaces()]
    _all_at_once(jobs)
    reports.metrics.sort(key=lambda m: (m.namespace, m.name, sorted(m.dimensions.items())))
    reports.gaps.sort()
    return reports


def describe_resources(found: Neighbourhood, region: str, topology: TopologyReader | None) -> Neighbourhood:
    """The walk's resources with the attributes their describe calls report (limits such as `max_connections`),
    read side by side; what the walk itself found (a target group's load balancer) is kept."""
    if topology is None:
        return found
    described: dict[tuple[str, str], dict[str, object]] = {}
    gaps: list[str] = []

    def describe(resource: Resource, reader: TopologyReader = topology) -> None:
        try:
            described[resource.key] = reader.attributes(region, resource.type, resource.id)
        except Exception as exc:  # noqa: BLE001 - a resource that cannot be described keeps its signals
            gaps.append(f"describe {resource.type} {resource.id}: {type(exc).__name__}: {str(exc)[:200]}")

    _all_at_once([partial(describe, resource) for resource in found.resources])
    resources = [
        r.model_copy(update={"attributes": {**described.get(r.key, {}), **r.attributes}}) for r in found.resources
    ]
    return found.model_copy(update={"resources": resources, "gaps": [*found.gaps, *sorted(gaps)]})
