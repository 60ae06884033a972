"""The neighbourhood of a service (DESIGN.md §5): the AWS resources on its request path and behind it, where each
sits on that path and how the agent found it. Pure data plus the ARN grammar that names a resource the way
CloudWatch does.

A resource is identified by its CloudFormation type and the identifier AWS reports and CloudWatch uses as the
dimension value (`app/name/hash` for a load balancer, `targetgroup/name/hash`, a DB instance identifier, a queue
name, `cluster/service` for an ECS service). Roles:

- `front`: in front of the service on the request path (load balancer, target group, WAF web ACL, API Gateway,
  CloudFront);
- `self`: the service's own compute (ECS service, Lambda function);
- `behind`: what the service uses (database, proxy, cache, queue, table, search domain, stream, NAT gateway,
  Direct Connect link);
- `dependency:<service>`: a resource of a catalog service this one depends on.

`via` says how it was found: the catalog, or an AWS API that reported the link (`ecs`, `lambda`, `elbv2`,
`wafv2`, `rds-proxy`, `tag` for the Resource Groups Tagging API, `list_metrics` for a CloudWatch dimension value).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

FRONT = "front"
SELF = "self"
BEHIND = "behind"
DEPENDENCY_PREFIX = "dependency:"


class Via(StrEnum):
    CATALOG = "catalog"
    ECS = "ecs"
    LAMBDA = "lambda"  # a function's event source mappings and destinations
    ELBV2 = "elbv2"
    WAFV2 = "wafv2"
    RDS_PROXY = "rds-proxy"
    TAG = "tag"
    LIST_METRICS = "list_metrics"


def dependency_role(service: str) -> str:
    return f"{DEPENDENCY_PREFIX}{service}"


def valid_role(role: str) -> bool:
    return role in (FRONT, SELF, BEHIND) or (role.startswith(DEPENDENCY_PREFIX) and len(role) > len(DEPENDENCY_PREFIX))


# CloudFormation types in front of a service on its request path; the rest of the known types sit behind it.
FRONT_TYPES = frozenset(
    {
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS::WAFv2::WebACL",
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGatewayV2::Api",
        "AWS::CloudFront::Distribution",
    }
)
SELF_TYPES = frozenset({"AWS::ECS::Service", "AWS::Lambda::Function"})


def role_of_type(resource_type: str) -> str:
    """Where a resource of this type sits relative to the service that owns it."""
    if resource_type in FRONT_TYPES:
        return FRONT
    return SELF if resource_type in SELF_TYPES else BEHIND


class Resource(BaseModel):
    """One resource of the neighbourhood. `owner` is the catalog service it belongs to (the alarmed one or a
    dependency); `attributes` carries what golden signals need beyond the id (an ECS service's `cluster`, a
    target group's `load_balancer`, a DB instance's `max_connections`, ...)."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(pattern=r"^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$")
    id: str = Field(min_length=1)
    role: str
    owner: str
    via: list[Via] = Field(min_length=1)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("role")
    @classmethod
    def _role(cls, role: str) -> str:
        if not valid_role(role):
            raise ValueError(f"role must be front, self, behind or dependency:<service>, got {role!r}")
        return role

    @property
    def key(self) -> tuple[str, str]:
        return self.type, self.id


class Neighbourhood(BaseModel):
    """What the walk found for one service: its resources and its dependencies' resources, plus what could not
    be listed (`gaps`: one sentence each, naming the API and the reason)."""

    model_config = ConfigDict(frozen=True)

    service: str
    resources: list[Resource] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)

    def by_role(self, role: str) -> list[Resource]:
        return [r for r in self.resources if r.role == role]

    def find(self, resource_id: str) -> Resource | None:
        return next((r for r in self.resources if r.id == resource_id), None)


# --- ARNs -> (CloudFormation type, CloudWatch dimension value) -------------------------------------------------

_ARN = re.compile(r"^arn:aws[a-z-]*:(?P<service>[a-z0-9-]+):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.+)$")
# (service, resource pattern, type); the first group is the id CloudWatch uses as the dimension value.
_ARN_TYPES: list[tuple[str, re.Pattern[str], str]] = [
    (
        "elasticloadbalancing",
        re.compile(r"^loadbalancer/((?:app|net|gwy)/[^/]+/[^/]+)$"),
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
    ),
    ("elasticloadbalancing", re.compile(r"^(targetgroup/[^/]+/[^/]+)$"), "AWS::ElasticLoadBalancingV2::TargetGroup"),
    ("wafv2", re.compile(r"^regional/webacl/([^/]+)/[^/]+$"), "AWS::WAFv2::WebACL"),
    ("rds", re.compile(r"^db:(.+)$"), "AWS::RDS::DBInstance"),
    ("rds", re.compile(r"^cluster:(.+)$"), "AWS::RDS::DBCluster"),
    ("rds", re.compile(r"^db-proxy:(.+)$"), "AWS::RDS::DBProxy"),
    ("sqs", re.compile(r"^([^:/]+)$"), "AWS::SQS::Queue"),
    ("dynamodb", re.compile(r"^table/([^/]+)$"), "AWS::DynamoDB::Table"),
    ("elasticache", re.compile(r"^replicationgroup:(.+)$"), "AWS::ElastiCache::ReplicationGroup"),
    ("elasticache", re.compile(r"^cluster:(.+)$"), "AWS::ElastiCache::CacheCluster"),
    ("es", re.compile(r"^domain/([^/]+)$"), "AWS::OpenSearchService::Domain"),
    ("kinesis", re.compile(r"^stream/([^/]+)$"), "AWS::Kinesis::Stream"),
    ("ec2", re.compile(r"^natgateway/(nat-[0-9a-f]+)$"), "AWS::EC2::NatGateway"),
    ("directconnect", re.compile(r"^dxcon/(dxcon-[0-9a-z]+)$"), "AWS::DirectConnect::Connection"),
    ("lambda", re.compile(r"^function:([^:]+)$"), "AWS::Lambda::Function"),
    ("apigateway", re.compile(r"^/restapis/([^/]+)$"), "AWS::ApiGateway::RestApi"),
    ("ecs", re.compile(r"^service/([^/]+/[^/]+)$"), "AWS::ECS::Service"),
]


def resource_from_arn(arn: str) -> tuple[str, str] | None:
    """(CloudFormation type, dimension-value id) for an ARN of a type the neighbourhood knows, else None.

    Where AWS names a resource by an internal id in its ARN (an RDS proxy's `prx-...`, an API's id) the id is
    that value; the catalog or ListMetrics supply the name CloudWatch uses."""
    match = _ARN.match(arn)
    if match is None:
        return None
    for service, pattern, resource_type in _ARN_TYPES:
        found = pattern.match(match["resource"]) if match["service"] == service else None
        if found:
            return resource_type, found.group(1)
    return None
