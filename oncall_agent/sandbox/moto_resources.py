"""Give moto's in-process resources the identifiers a scenario names, and make the tagging API see them all.

moto invents the hash of a load balancer (`app/name/HASH`), a target group (`targetgroup/name/HASH`) and the id
of a NAT gateway, while a scenario's metrics, events and CloudTrail records name the real ones
(SCENARIOS.md "Resource id"). The sandbox creates each resource through the API and then renames moto's object
(the threaded moto server runs in this process, as for `moto_backdate`). moto's Resource Groups Tagging API
does not walk Kinesis, OpenSearch, WAFv2 or API Gateway: `register_tagged` adds such resources to what
GetResources reports, with the tags their own API was given. Without moto in this process nothing changes
and each function returns False.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from oncall_agent.sandbox.moto_backdate import moto_backend

_MARKER = "_oncall_agent_extra_tagged"
_lock = threading.Lock()
_extra: dict[tuple[str, str], dict[str, tuple[dict[str, str], str]]] = {}
"""(account, region) -> {arn: (tags, resource type such as `kinesis:stream`)}"""


def rename_load_balancer(account: str, region: str, moto_arn: str, arn: str) -> bool:
    backend = moto_backend("elbv2", "elbv2_backends", account, region)
    found = None if backend is None else backend.load_balancers.pop(moto_arn, None)
    if found is None:
        return False
    found.arn = arn
    backend.load_balancers[arn] = found
    return True


def rename_target_group(account: str, region: str, moto_arn: str, arn: str) -> bool:
    backend = moto_backend("elbv2", "elbv2_backends", account, region)
    found = None if backend is None else backend.target_groups.pop(moto_arn, None)
    if found is None:
        return False
    found.arn = arn
    backend.target_groups[arn] = found
    return True


def rename_nat_gateway(account: str, region: str, moto_id: str, wanted: str) -> bool:
    backend = moto_backend("ec2", "ec2_backends", account, region)
    found = None if backend is None else backend.nat_gateways.pop(moto_id, None)
    if found is None:
        return False
    found.id = wanted
    backend.nat_gateways[wanted] = found
    return True


def rename_instance(account: str, region: str, moto_id: str, wanted: str) -> bool:
    backend = moto_backend("ec2", "ec2_backends", account, region)
    if backend is None:
        return False
    for reservation in backend.reservations.values():
        for instance in reservation.instances:
            if instance.id == moto_id:
                instance.id = wanted
                return True
    return False


def rename_dx_connection(account: str, region: str, moto_id: str, wanted: str) -> bool:
    """moto's Direct Connect connection id is an ARN-like string; AWS's (CloudWatch's ConnectionId) is `dxcon-…`."""
    backend = moto_backend("directconnect", "directconnect_backends", account, region)
    found = None if backend is None else backend.connections.pop(moto_id, None)
    if found is None:
        return False
    found.connection_id = wanted
    backend.connections[wanted] = found
    return True


def rename_certificate(account: str, region: str, moto_arn: str, arn: str, kind: str | None) -> bool:
    """Give the certificate the scenario's ARN (ACM invents the id) and, when given, its type (IMPORTED)."""
    backend = moto_backend("acm", "acm_backends", account, region)
    found = None if backend is None else backend._certificates.pop(moto_arn, None)
    if found is None:
        return False
    found.arn = arn
    if kind is not None:
        found.type = kind
    backend._certificates[arn] = found
    return True


def complete_proxy_targets(account: str, region: str, proxy: str, port: int) -> bool:
    """Fill what moto leaves out of DescribeDBProxyTargets: each target's ARN and the engine's port, and
    `TrackedClusterId` of a cluster target (AWS reports the cluster id there)."""
    backend = moto_backend("rds", "rds_backends", account, region)
    found = None if backend is None else backend.db_proxies.get(proxy)
    if found is None:
        return False
    for target in found.proxy_target_groups["default"].targets:
        cluster = target.type == "TRACKED_CLUSTER"
        target.port = port
        target.target_arn = f"arn:aws:rds:{region}:{account}:{'cluster' if cluster else 'db'}:{target.rds_resource_id}"
        if cluster:
            target.tracked_cluster_id = target.rds_resource_id
    return True


def register_tagged(account: str, region: str, arn: str, tags: dict[str, str], resource_type: str) -> bool:
    """Report `arn` with `tags` from GetResources in (account, region); False when moto is not in-process."""
    if not install():
        return False
    with _lock:
        _extra.setdefault((account, region), {})[arn] = (dict(tags), resource_type)
    return True


def forget_tagged() -> None:
    """Drop every registered resource (a new world resets moto)."""
    with _lock:
        _extra.clear()


def _with_extra(original: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    def generator(self: Any, tag_filters: Any = None, resource_type_filters: Any = None, **kwargs: Any) -> Any:
        from moto.core.resource_tagging import TaggedResource, make_tag_matcher, match_resource_type

        yield from original(self, tag_filters=tag_filters, resource_type_filters=resource_type_filters, **kwargs)
        matches = make_tag_matcher(tag_filters)
        wanted_arns = kwargs.get("resource_arn_list")
        with _lock:
            extra = list(_extra.get((self.account_id, self.region_name), {}).items())
        for arn, (tags, kind) in extra:
            wanted = not wanted_arns or arn in wanted_arns
            if wanted and match_resource_type(kind, resource_type_filters) and matches(tags):
                yield TaggedResource(arn=arn, tags=tags, resource_type=kind)

    setattr(generator, _MARKER, True)
    return generator


def install() -> bool:
    """Extend moto's GetResources with registered resources; idempotent. False when moto is not installed."""
    try:
        from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend
    except ImportError:
        return False
    with _lock:
        current = ResourceGroupsTaggingAPIBackend._get_resources_generator
        if not getattr(current, _MARKER, False):
            setattr(ResourceGroupsTaggingAPIBackend, "_get_resources_generator", _with_extra(current))  # noqa: B010
    return True
