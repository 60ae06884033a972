"""The neighbourhood walk, a pure function: the catalog plus what AWS reported (explore.py gathers it) -> the
resources around a service and around each service it depends on, each with its role and how it was found.

Rules, in order (a resource found twice keeps its first role and collects every `via`):
1. the service's own compute (`self`: its ECS service, its Lambda function) and `services[].resources`;
2. target groups ECS reports on the service (or the catalog declares), the load balancers that route to them,
   the WAF web ACL of each load balancer (`front`); a Lambda function's event sources and destinations;
3. resources tagged `<tag key>=<service>` (role by type: a tagged load balancer is `front`, a table `behind`);
4. the DB instances or clusters behind each RDS proxy found so far (`behind`, via `rds-proxy`);
5. CloudWatch dimension values (ListMetrics) that name the service, one of its resources or a dependency;
and the same for each dependency in `depends_on`, whose resources get the role `dependency:<name>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from oncall_agent.domain.alarm import MetricSpec
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.neighbourhood import (
    FRONT,
    SELF,
    Neighbourhood,
    Resource,
    Via,
    dependency_role,
    resource_from_arn,
    role_of_type,
)
from oncall_agent.investigation.neighbourhood.golden_signals import type_for_dimension

LB = "AWS::ElasticLoadBalancingV2::LoadBalancer"
TG = "AWS::ElasticLoadBalancingV2::TargetGroup"
PROXY = "AWS::RDS::DBProxy"


@dataclass
class AwsReports:
    """What AWS reported, keyed the way explore.py asked: by catalog service name, target group, load balancer
    or proxy. Identifiers are ARNs except `proxy_targets` (type, id) and ListMetrics' `metrics`."""

    target_groups: dict[str, list[str]] = field(default_factory=dict)  # service -> target group ARNs
    load_balancers: dict[str, list[str]] = field(default_factory=dict)  # target group id -> LB ARNs
    web_acls: dict[str, str] = field(default_factory=dict)  # LB id -> web ACL ARN
    proxy_targets: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # proxy id -> (type, id)
    tagged: dict[str, list[str]] = field(default_factory=dict)  # service -> ARNs tagged for it
    # service -> (source | destination, ARN) of its function's event sources and destinations
    lambda_links: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    metrics: list[MetricSpec] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)


class _Found:
    """Resources in discovery order, merged by (type, id)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Resource] = {}

    def add(self, rtype: str, rid: str, role: str, owner: str, via: Via, **attributes: Any) -> None:
        key = (rtype, rid)
        known = self.items.get(key)
        if known is None:
            self.items[key] = Resource(type=rtype, id=rid, role=role, owner=owner, via=[via], attributes=attributes)
            return
        vias = known.via if via in known.via else [*known.via, via]
        merged = {**attributes, **known.attributes}  # what was found first wins
        self.items[key] = known.model_copy(update={"via": vias, "attributes": merged})

    def of(self, owner: str, rtype: str) -> list[Resource]:
        return [r for r in self.items.values() if r.owner == owner and r.type == rtype]


def short_id(identifier: str) -> str:
    """A target group or load balancer named by ARN or by its CloudWatch id -> the CloudWatch id."""
    found = resource_from_arn(identifier)
    return found[1] if found else identifier


def _role(rtype: str, owner: str, service: str) -> str:
    return role_of_type(rtype) if owner == service else dependency_role(owner)


def _compute(found: _Found, svc: Service, role: str) -> None:
    if svc.ecs is not None:
        found.add("AWS::ECS::Service", f"{svc.ecs.cluster}/{svc.ecs.service}", role, svc.name, Via.CATALOG)
    if svc.lambda_ is not None:
        found.add("AWS::Lambda::Function", svc.lambda_.function, role, svc.name, Via.CATALOG)


def _path(found: _Found, svc: Service, reports: AwsReports, service: str) -> None:
    """Catalog resources, then ECS -> target groups -> load balancers -> WAF, then tagged resources."""
    for ref in svc.resources:
        found.add(ref.type, ref.id, _role(ref.type, svc.name, service), svc.name, Via.CATALOG)
    declared = [(tg, Via.CATALOG) for tg in svc.ecs.target_groups] if svc.ecs else []
    reported = [(tg, Via.ECS) for tg in reports.target_groups.get(svc.name, [])]
    for target_group, via in [*declared, *reported]:
        tg_id = short_id(target_group)
        lbs = [short_id(lb) for lb in reports.load_balancers.get(tg_id, [])]
        attrs = {"load_balancer": lbs[0]} if lbs else {}
        found.add(TG, tg_id, _role(TG, svc.name, service), svc.name, via, **attrs)
        for lb in lbs:
            found.add(LB, lb, _role(LB, svc.name, service), svc.name, Via.ELBV2)
    for kind, arn in reports.lambda_links.get(svc.name, []):
        typed = resource_from_arn(arn)
        if typed is not None:  # an event source feeds the function: it sits in front of it
            role = FRONT if kind == "source" and svc.name == service else _role(typed[0], svc.name, service)
            found.add(typed[0], typed[1], role, svc.name, Via.LAMBDA, link=kind)
    for arn in reports.tagged.get(svc.name, []):
        typed = resource_from_arn(arn)
        if typed is not None:
            found.add(typed[0], typed[1], _role(typed[0], svc.name, service), svc.name, Via.TAG)
    for balancer in found.of(svc.name, LB):
        acl = reports.web_acls.get(balancer.id)
        if acl:
            waf = "AWS::WAFv2::WebACL"
            found.add(waf, short_id(acl), _role(waf, svc.name, service), svc.name, Via.WAFV2, protects=balancer.id)
    for proxy in found.of(svc.name, PROXY):
        for rtype, rid in reports.proxy_targets.get(proxy.id, []):
            found.add(rtype, rid, _role(rtype, svc.name, service), svc.name, Via.RDS_PROXY, proxy=proxy.id)


def _names(token: str) -> re.Pattern[str]:
    # A name counts inside a dimension value only between separators: `orders` names `orders-db` and
    # `app/orders/1f`, never `preorders`.
    return re.compile(rf"(^|[/:_.-]){re.escape(token)}($|[/:_.-])", re.IGNORECASE)


def _from_metrics(found: _Found, reports: AwsReports, owners: list[Service], service: str) -> None:
    tokens: list[tuple[re.Pattern[str], str]] = []
    for svc in owners:
        names = {svc.name, *(r.id for r in found.items.values() if r.owner == svc.name)}
        tokens += [(_names(name), svc.name) for name in sorted(names)]
    for metric in reports.metrics:
        for dimension, value in metric.dimensions.items():
            typed = type_for_dimension(metric.namespace, dimension)
            owner = next((o for pattern, o in tokens if pattern.search(value)), None)
            if typed is None or owner is None:
                continue
            attrs = {
                k: v
                for k, v in {
                    "load_balancer": metric.dimensions.get("LoadBalancer"),
                    "account": metric.dimensions.get("ClientId"),
                }.items()
                if v and k != dimension
            }
            if typed[0] == TG and "load_balancer" not in attrs:
                continue  # a target group's metrics need its load balancer too
            found.add(typed[0], value, _role(typed[0], owner, service), owner, Via.LIST_METRICS, **attrs)


def build(service: Service, catalog: list[Service], reports: AwsReports) -> Neighbourhood:
    """The resource graph for `service` and each of its dependencies (those the catalog knows by name)."""
    dependencies = dependency_services(service, catalog)
    found = _Found()
    _compute(found, service, SELF)
    for svc in [service, *dependencies]:
        if svc is not service:
            _compute(found, svc, dependency_role(svc.name))
        _path(found, svc, reports, service.name)
    _from_metrics(found, reports, [service, *dependencies], service.name)
    return Neighbourhood(service=service.name, resources=list(found.items.values()), gaps=list(reports.gaps))


def dependency_services(service: Service, catalog: list[Service]) -> list[Service]:
    """The catalog entries of `depends_on`; a dependency the catalog does not describe is still looked for by
    its name (tags, ListMetrics)."""
    by_name = {s.name: s for s in catalog}
    found = []
    for name in dict.fromkeys(service.depends_on):
        if name == service.name:
            continue
        if name in by_name:
            found.append(by_name[name])
        elif re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            found.append(Service(name=name))
    return found
