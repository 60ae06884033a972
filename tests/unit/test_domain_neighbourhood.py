"""The neighbourhood domain model: roles, and ARNs read as (CloudFormation type, CloudWatch dimension value)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from oncall_agent.domain.neighbourhood import (
    BEHIND,
    FRONT,
    SELF,
    Neighbourhood,
    Resource,
    Via,
    dependency_role,
    resource_from_arn,
    role_of_type,
)

ARNS = [
    (
        "arn:aws:elasticloadbalancing:us-east-1:210987654321:loadbalancer/app/prod-core/50dc6c495c0c9188",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "app/prod-core/50dc6c495c0c9188",
    ),
    (
        "arn:aws:elasticloadbalancing:us-east-1:210987654321:targetgroup/orders-api/9b8a7c",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "targetgroup/orders-api/9b8a7c",
    ),
    (
        "arn:aws:wafv2:us-east-1:210987654321:regional/webacl/prod-core-edge/a1b2-c3",
        "AWS::WAFv2::WebACL",
        "prod-core-edge",
    ),
    ("arn:aws:rds:us-east-1:210987654321:db:orders-db", "AWS::RDS::DBInstance", "orders-db"),
    ("arn:aws:rds:us-east-1:210987654321:cluster:orders-aurora", "AWS::RDS::DBCluster", "orders-aurora"),
    ("arn:aws:sqs:us-east-1:210987654321:orders-events", "AWS::SQS::Queue", "orders-events"),
    ("arn:aws:dynamodb:us-east-1:210987654321:table/carts", "AWS::DynamoDB::Table", "carts"),
    (
        "arn:aws:elasticache:us-east-1:210987654321:replicationgroup:sessions",
        "AWS::ElastiCache::ReplicationGroup",
        "sessions",
    ),
    ("arn:aws:es:us-east-1:210987654321:domain/search", "AWS::OpenSearchService::Domain", "search"),
    ("arn:aws:kinesis:us-east-1:210987654321:stream/clicks", "AWS::Kinesis::Stream", "clicks"),
    ("arn:aws:ec2:us-east-1:210987654321:natgateway/nat-0abc1234", "AWS::EC2::NatGateway", "nat-0abc1234"),
    (
        "arn:aws:directconnect:us-east-1:210987654321:dxcon/dxcon-fg31dyv6",
        "AWS::DirectConnect::Connection",
        "dxcon-fg31dyv6",
    ),
    ("arn:aws:lambda:us-east-1:210987654321:function:thumbs", "AWS::Lambda::Function", "thumbs"),
    ("arn:aws:ecs:us-east-1:210987654321:service/prod-core/orders-api", "AWS::ECS::Service", "prod-core/orders-api"),
]


@pytest.mark.parametrize(("arn", "rtype", "rid"), ARNS)
def test_arn_names_type_and_dimension_value(arn: str, rtype: str, rid: str) -> None:
    assert resource_from_arn(arn) == (rtype, rid)


@pytest.mark.parametrize("arn", ["not-an-arn", "arn:aws:s3:::bucket", "arn:aws:ecs:r:a:task/prod/abc"])
def test_unknown_arns_are_none(arn: str) -> None:
    assert resource_from_arn(arn) is None


def test_roles() -> None:
    assert role_of_type("AWS::WAFv2::WebACL") == FRONT
    assert role_of_type("AWS::ECS::Service") == SELF
    assert role_of_type("AWS::RDS::DBProxy") == BEHIND
    found = Resource(
        type="AWS::RDS::DBInstance", id="pay-db", role=dependency_role("payments"), owner="payments", via=[Via.TAG]
    )
    assert Neighbourhood(service="orders", resources=[found]).by_role("dependency:payments") == [found]
    for bad in ("sideways", "dependency:"):
        with pytest.raises(ValidationError, match="role must be"):
            Resource(type="AWS::SQS::Queue", id="q", role=bad, owner="x", via=[Via.CATALOG])
