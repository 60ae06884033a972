"""AWS topology adapter (ports.TopologyReader): the links AWS itself reports between resources.

ECS DescribeServices `loadBalancers` (target groups on a service), ELBv2 DescribeTargetGroups `LoadBalancerArns`,
WAFv2 GetWebACLForResource (REGIONAL), RDS DescribeDBProxyTargets, and the Resource Groups Tagging API's
GetResources by tag; and the attributes golden-signal limits depend on (describe.py). One boto3 client per
(API, region), built lazily; SDK errors propagate (the caller turns each into a `gap` naming the API).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from oncall_agent.adapters.aws.describe import DESCRIBERS
from oncall_agent.domain.errors import SourceError

MAX_TAGGED_PAGES = 5  # GetResources answers 100 resources a page; a service rarely has more tagged
_PROXY_TARGET_TYPES = {"RDS_INSTANCE": "AWS::RDS::DBInstance", "RDS_SERVERLESS_ENDPOINT": "AWS::RDS::DBCluster"}


class TopologyError(SourceError):
    """An API reporting resource links answered with an error."""


class AwsTopologyReader:
    """`clients` maps an API name (`ecs`, `elbv2`, `wafv2`, `rds`, `resourcegroupstaggingapi`, and for
    attributes `sqs`, `dynamodb`, `lambda`, `kinesis`) to a function building its client for a region."""

    def __init__(self, clients: dict[str, Callable[[str], Any]]) -> None:
        self._factories = clients
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _client(self, api: str, region: str) -> Any:
        with self._lock:
            if (api, region) not in self._clients:
                self._clients[(api, region)] = self._factories[api](region)
            return self._clients[(api, region)]

    def ecs_target_groups(self, region: str, cluster: str, service: str) -> list[str]:
        answer = self._client("ecs", region).describe_services(cluster=cluster, services=[service])
        found = [
            lb["targetGroupArn"]
            for svc in answer.get("services") or []
            for lb in svc.get("loadBalancers") or []
            if lb.get("targetGroupArn")
        ]
        return list(dict.fromkeys(found))

    def load_balancers(self, region: str, target_groups: list[str]) -> dict[str, list[str]]:
        """Target groups named by ARN or by `targetgroup/name/hash` (the CloudWatch id; looked up by name)."""
        client = self._client("elbv2", region)
        arns = [tg for tg in target_groups if tg.startswith("arn:")]
        names = list(dict.fromkeys(tg.split("/")[1] for tg in target_groups if not tg.startswith("arn:") and "/" in tg))
        groups: list[dict[str, Any]] = []
        if arns:
            groups += client.describe_target_groups(TargetGroupArns=arns).get("TargetGroups") or []
        for name in names:  # one by name: an unknown name fails the whole call
            try:
                groups += client.describe_target_groups(Names=[name]).get("TargetGroups") or []
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TargetGroupNotFound":
                    raise
        return {tg["TargetGroupArn"]: list(tg.get("LoadBalancerArns") or []) for tg in groups}

    def web_acl(self, region: str, resource_arn: str) -> str | None:
        try:
            answer = self._client("wafv2", region).get_web_acl_for_resource(ResourceArn=resource_arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "WAFNonexistentItemException":
                return None  # nothing associated with the resource
            raise
        acl = answer.get("WebACL") or {}
        return acl.get("ARN")

    def lambda_links(self, region: str, function: str) -> list[tuple[str, str]]:
        """ARNs of the function's event sources (ListEventSourceMappings: queues, streams, tables' streams) and
        of its asynchronous destinations (GetFunctionEventInvokeConfig), when it has them."""
        client = self._client("lambda", region)
        mappings = client.list_event_source_mappings(FunctionName=function).get("EventSourceMappings") or []
        found = [("source", m["EventSourceArn"]) for m in mappings if m.get("EventSourceArn")]
        try:
            config = client.get_function_event_invoke_config(FunctionName=function).get("DestinationConfig") or {}
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            config = {}  # no asynchronous invocation configuration
        found += [
            ("destination", d["Destination"]) for d in config.values() if isinstance(d, dict) and d.get("Destination")
        ]
        return list(dict.fromkeys(found))

    def proxy_targets(self, region: str, proxy: str) -> list[tuple[str, str]]:
        answer = self._client("rds", region).describe_db_proxy_targets(DBProxyName=proxy)
        found = []
        for target in answer.get("Targets") or []:
            rtype = _PROXY_TARGET_TYPES.get(str(target.get("Type")))
            ident = target.get("RdsResourceId") or target.get("TrackedClusterId")
            if target.get("TrackedClusterId"):
                rtype, ident = "AWS::RDS::DBCluster", target["TrackedClusterId"]
            if rtype and ident:
                found.append((rtype, str(ident)))
        return list(dict.fromkeys(found))

    def tagged(
        self, region: str, key: str, values: list[str], agree: Mapping[str, Mapping[str, str]] | None = None
    ) -> dict[str, list[str]]:
        """One query for every value (a tag filter's values are alternatives), at most MAX_TAGGED_PAGES pages."""
        if not values:
            return {}
        client = self._client("resourcegroupstaggingapi", region)
        found: dict[str, list[str]] = {value: [] for value in values}
        request: dict[str, Any] = {"TagFilters": [{"Key": key, "Values": values}], "ResourcesPerPage": 100}
        for _ in range(MAX_TAGGED_PAGES):
            answer = client.get_resources(**request)
            for item in answer.get("ResourceTagMappingList") or []:
                tags = {t.get("Key"): t.get("Value") for t in item.get("Tags") or []}
                owner = tags.get(key)
                wanted = (agree or {}).get(str(owner), {})
                if owner in found and all(tags.get(k, v) == v for k, v in wanted.items()):
                    found[str(owner)].append(item["ResourceARN"])
            token = answer.get("PaginationToken")
            if not token:
                break
            request["PaginationToken"] = token
        return found

    def attributes(self, region: str, resource_type: str, resource_id: str) -> dict[str, Any]:
        describe = DESCRIBERS.get(resource_type)
        if describe is None:
            return {}
        return describe(lambda api: self._client(api, region), resource_id)
