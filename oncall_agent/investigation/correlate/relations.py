"""How facts relate to services and to each other: which service an alarm or a deploy belongs to, how a
service relates to the one under investigation (itself, upstream, downstream), and whether a text mentions
an identifier (at identifier boundaries, case-insensitively).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.records import AlarmSnapshot
from oncall_agent.investigation.correlate.context import CorrelationContext

SELF, UPSTREAM, DOWNSTREAM, OTHER = "self", "upstream", "downstream", "other"
RESOURCE = "resource"
"""An alarm of no service that watches resources of this one (its load balancer and target group, its ECS
cluster): an availability-zone health alarm on the shared load balancer, a cluster capacity alarm."""
_LOCATION_DIMENSIONS = frozenset({"AvailabilityZone", "AvailabilityZoneId"})


def service_names(service: Service) -> set[str]:
    """Every name a service goes by in alarms, deploys and logs: catalog name, ECS service, Lambda function."""
    names = {service.name}
    if service.ecs:
        names.add(service.ecs.service)
    if service.lambda_:
        names.add(service.lambda_.function)
    if service.codedeploy:
        names.add(service.codedeploy.group)
    return names


_GENERIC_PARTS = frozenset(
    {
        "service",
        "server",
        "backend",
        "frontend",
        "worker",
        "workers",
        "prod",
        "production",
        "staging",
        "internal",
        "public",
        "private",
        "cluster",
        "lambda",
        "function",
        "handler",
        "daemon",
        "consumer",
        "producer",
    }
)


def name_parts(service: Service) -> set[str]:
    """The distinctive parts of a service's names (`invoicing` of `invoicing-api`): five characters or more and
    not a generic word (`service`, `worker`, `prod`...)."""
    parts = {part for name in service_names(service) for part in re.split(r"[-_./:]", name)}
    return {part for part in parts if len(part) >= 5 and part.lower() not in _GENERIC_PARTS}


def relation(ctx: CorrelationContext, name: str | None) -> str:
    if name is None:
        return OTHER
    if name == ctx.service.name:
        return SELF
    if name in ctx.service.depends_on:
        return UPSTREAM
    return DOWNSTREAM if name in ctx.dependents() else OTHER


def alarm_service(snapshot: AlarmSnapshot, ctx: CorrelationContext) -> str | None:
    """The service an alarm is about: its `service` tag, its ECS/Lambda dimensions, else the longest known
    service name (catalog or dependency, which may be outside the catalog) that prefixes the alarm name."""
    tagged = snapshot.tags.get("service")
    if tagged:
        return tagged
    dimensions = snapshot.metric.dimensions if snapshot.metric else {}
    for entry in ctx.catalog:
        if entry.ecs and dimensions.get("ServiceName") == entry.ecs.service:
            return entry.name
        if entry.lambda_ and dimensions.get("FunctionName") == entry.lambda_.function:
            return entry.name
    known = {entry.name for entry in ctx.catalog} | set(ctx.service.depends_on)
    prefixed = [name for name in known if snapshot.name.startswith(f"{name}-")]
    return max(prefixed, key=len) if prefixed else None


def on_our_resources(snapshot: AlarmSnapshot, ctx: CorrelationContext) -> bool:
    """Whether an alarm watches only resources of this service: every resource dimension value (locations
    aside) is one of the incident alarm's dimension values or a name of the service (its ECS cluster too).
    An alarm on the same load balancer but another target group is not ours."""
    dimensions = snapshot.metric.dimensions if snapshot.metric else {}
    resources = {key: value for key, value in dimensions.items() if key not in _LOCATION_DIMENSIONS}
    ours = set(ctx.alarm_metric.dimensions.values()) if ctx.alarm_metric else set()
    ours |= service_names(ctx.service)
    if ctx.service.ecs:
        ours.add(ctx.service.ecs.cluster)
    return bool(resources) and all(value in ours for value in resources.values())


def deploy_is_of(details: dict[str, Any], service: Service) -> bool:
    """Whether a deploy record (as dumped into evidence details) changed `service`."""
    if details.get("service"):
        return str(details["service"]) == service.name
    target = str(details.get("target") or "")
    if service.ecs and ":service/" in target:  # an ECS service ARN names its cluster too (prod vs staging)
        cluster_and_name = target.split(":service/", 1)[1].split("/")
        if len(cluster_and_name) == 2:
            return cluster_and_name == [service.ecs.cluster, service.ecs.service]
    names = service_names(service)
    if service.repo:
        names.add(service.repo)
    tail = re.split(r"[/:]", target)[-1] if target else ""
    return target in names or tail in names


@lru_cache(maxsize=4096)
def _pattern(token: str, right_edge: bool) -> re.Pattern[str]:
    # A leading `v` is allowed so an image tag `4c9e2b7` is found in `version v4c9e2b7`.
    right = r"(?![A-Za-z0-9])" if right_edge else ""
    return re.compile(r"(?<![A-Za-z0-9])v?" + re.escape(token) + right, re.IGNORECASE)


def mentions(texts: Iterable[str], tokens: Iterable[str], right_edge: bool = True) -> list[str]:
    """The tokens that occur in any of `texts` at an identifier boundary (sorted, deduplicated)."""
    corpus = list(texts)
    found = {token for token in tokens if token and any(_pattern(token, right_edge).search(t) for t in corpus)}
    return sorted(found)


def flatten(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string and number in a nested JSON-like value (bounded depth: the input is untrusted)."""
    if depth > 8:
        return
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from flatten(value[key], depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from flatten(item, depth + 1)
    elif isinstance(value, bool) or value is None:
        return
    else:
        yield str(value)


_HEXISH = re.compile(r"^[0-9a-f]{7,40}$", re.IGNORECASE)
_ID_CHARS = re.compile(r"[0-9/_:.\-]")
_WORDS = re.compile(r"[\s,;()\[\]{}\"'=]+")


def identifier_tokens(values: Iterable[str]) -> set[str]:
    """Identifier-like pieces of values (resource ids, image tags, ARN tails, ports): words of four or more
    characters with a digit or a separator, plus the last `:`/`/` segment of each (an ARN's resource name, an
    image's tag). Plain words ("String", "tcp") are left out: they would match every log line."""
    tokens: set[str] = set()
    for value in values:
        for piece in _WORDS.split(value):
            word = piece.strip(".")
            if len(word) < 4 or not _ID_CHARS.search(word):
                continue
            tokens.add(word)
            tail = re.split(r"[/:]", word)[-1]
            if len(tail) >= 4 and (_HEXISH.match(tail) or _ID_CHARS.search(tail) or "-" in tail):
                tokens.add(tail)
    return {token for token in tokens if token.lower() not in {"true", "false", "none", "null"}}
