"""The CloudTrail management events a scenario implies (pure): its deploys and its `changes`.

ECS deploys become `RegisterTaskDefinition` then `UpdateService`; Lambda deploys `UpdateAlias20150331`
(Lambda's real CloudTrail event names carry the API version); CodeDeploy deploys `CreateDeployment` with the
deployment id in the response elements; `changes` are taken as written. Generated event ids derive from the
scenario id, so they are the same in every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from oncall_agent.sandbox.scenario import (
    CloudTrailChange,
    CodeDeployDeploy,
    EcsDeploy,
    LambdaDeploy,
    Scenario,
    resolve_time,
    split_task_definition,
)
from oncall_agent.sandbox.scenario_targets import (
    account_of,
    codedeploy_revision,
    ecs_service_arn,
    ecs_target,
    lambda_alias,
    lambda_function_arn,
    stable_uuid,
    task_definition_arn,
)

DEFAULT_DEPLOYER = "deploy-bot"
DEFAULT_ACTOR = "unknown"
REGISTER_LEAD = timedelta(seconds=40)
"""A pipeline registers the new task definition revision this long before it updates the service."""


@dataclass(frozen=True)
class TrailEvent:
    event_id: str
    name: str
    source: str
    at: datetime
    username: str
    resources: list[dict[str, str]]
    parameters: dict[str, Any]
    response: dict[str, Any] | None = field(default=None)


def _resource(kind: str, name: str) -> dict[str, str]:
    return {"ResourceType": kind, "ResourceName": name}


def _ecs_events(scenario: Scenario, now: datetime, index: int, deploy: EcsDeploy) -> list[TrailEvent]:
    cluster, service = ecs_target(scenario, deploy.service)
    family, _ = split_task_definition(deploy.task_definition)
    at, who = resolve_time(deploy.at, now), deploy.actor or DEFAULT_DEPLOYER
    definition = _resource("AWS::ECS::TaskDefinition", task_definition_arn(scenario, deploy.task_definition))
    container = {"name": family, **({"image": deploy.image} if deploy.image else {})}
    register = TrailEvent(
        event_id=stable_uuid(scenario.id, "deploys", index, "RegisterTaskDefinition"),
        name="RegisterTaskDefinition",
        source="ecs.amazonaws.com",
        at=at - REGISTER_LEAD,
        username=who,
        resources=[definition],
        parameters={"family": family, "containerDefinitions": [container]},
    )
    update = TrailEvent(
        event_id=stable_uuid(scenario.id, "deploys", index, "UpdateService"),
        name="UpdateService",
        source="ecs.amazonaws.com",
        at=at,
        username=who,
        resources=[_resource("AWS::ECS::Service", ecs_service_arn(scenario, cluster, service)), definition],
        parameters={"cluster": cluster, "service": service, "taskDefinition": deploy.task_definition},
    )
    return [register, update]


def _lambda_event(scenario: Scenario, now: datetime, index: int, deploy: LambdaDeploy) -> TrailEvent:
    alias = lambda_alias(scenario, deploy)
    return TrailEvent(
        event_id=stable_uuid(scenario.id, "deploys", index, "UpdateAlias"),
        name="UpdateAlias20150331",
        source="lambda.amazonaws.com",
        at=resolve_time(deploy.at, now),
        username=deploy.actor or DEFAULT_DEPLOYER,
        resources=[_resource("AWS::Lambda::Function", lambda_function_arn(scenario, deploy.function))],
        parameters={"functionName": deploy.function, "name": alias, "functionVersion": deploy.version},
    )


def _codedeploy_event(scenario: Scenario, now: datetime, index: int, deploy: CodeDeployDeploy) -> TrailEvent:
    group_arn = (
        f"arn:aws:codedeploy:{scenario.region}:{account_of(scenario)}:deploymentgroup:"
        f"{deploy.application}/{deploy.group}"
    )
    return TrailEvent(
        event_id=stable_uuid(scenario.id, "deploys", index, "CreateDeployment"),
        name="CreateDeployment",
        source="codedeploy.amazonaws.com",
        at=resolve_time(deploy.at, now),
        username=deploy.actor or DEFAULT_DEPLOYER,
        resources=[_resource("AWS::CodeDeploy::DeploymentGroup", group_arn)],
        parameters={
            "applicationName": deploy.application,
            "deploymentGroupName": deploy.group,
            "revision": codedeploy_revision(scenario, deploy),
        },
        response={"deploymentId": deploy.deployment_id},
    )


_PREFIX_TYPES = {
    "sg-": "AWS::EC2::SecurityGroup",
    "i-": "AWS::EC2::Instance",
    "vpc-": "AWS::EC2::VPC",
    "subnet-": "AWS::EC2::Subnet",
    "acl-": "AWS::EC2::NetworkAcl",
    "rtb-": "AWS::EC2::RouteTable",
}
_SOURCE_TYPES = {
    "ssm.amazonaws.com": "AWS::SSM::Parameter",
    "iam.amazonaws.com": "AWS::IAM::Role",
    "rds.amazonaws.com": "AWS::RDS::DBInstance",
    "secretsmanager.amazonaws.com": "AWS::SecretsManager::Secret",
    "elasticloadbalancing.amazonaws.com": "AWS::ElasticLoadBalancingV2::TargetGroup",
    "kms.amazonaws.com": "AWS::KMS::Key",
    "dynamodb.amazonaws.com": "AWS::DynamoDB::Table",
    "lambda.amazonaws.com": "AWS::Lambda::Function",
}
_EVENT_TYPES = {
    "ModifyDBParameterGroup": "AWS::RDS::DBParameterGroup",
    "ModifyDBClusterParameterGroup": "AWS::RDS::DBClusterParameterGroup",
    "ModifyDBCluster": "AWS::RDS::DBCluster",
}
"""Events whose resource is not the kind their service's events usually change."""
_ELB_ARN_TYPES = {
    ":loadbalancer/": "AWS::ElasticLoadBalancingV2::LoadBalancer",
    ":listener/": "AWS::ElasticLoadBalancingV2::Listener",
}


def resource_type(source: str, resource: str, event: str = "") -> str:
    """CloudTrail's ResourceType for a `changes` resource, guessed from its id prefix, its event name, the
    kind in its ARN (a load balancer or listener rather than a target group) or its event source."""
    for prefix, kind in _PREFIX_TYPES.items():
        if resource.startswith(prefix):
            return kind
    if event in _EVENT_TYPES:
        return _EVENT_TYPES[event]
    for marker, kind in _ELB_ARN_TYPES.items():
        if source == "elasticloadbalancing.amazonaws.com" and marker in resource:
            return kind
    return _SOURCE_TYPES.get(source, f"AWS::{source.split('.', 1)[0].upper()}::Resource")


def _change_event(scenario: Scenario, now: datetime, index: int, change: CloudTrailChange) -> TrailEvent:
    resources = []
    if change.resource:
        resources.append(_resource(resource_type(change.source, change.resource, change.name), change.resource))
    return TrailEvent(
        event_id=change.id or stable_uuid(scenario.id, "changes", index),
        name=change.name,
        source=change.source,
        at=resolve_time(change.at, now),
        username=change.actor or DEFAULT_ACTOR,
        resources=resources,
        parameters=dict(change.parameters),
    )


def trail_events(scenario: Scenario, now: datetime) -> list[TrailEvent]:
    """Every CloudTrail event the scenario implies, oldest first."""
    events: list[TrailEvent] = []
    for index, deploy in enumerate(scenario.deploys):
        if isinstance(deploy, EcsDeploy):
            events += _ecs_events(scenario, now, index, deploy)
        elif isinstance(deploy, LambdaDeploy):
            events.append(_lambda_event(scenario, now, index, deploy))
        else:
            events.append(_codedeploy_event(scenario, now, index, deploy))
    events += [_change_event(scenario, now, index, change) for index, change in enumerate(scenario.changes)]
    return sorted(events, key=lambda event: event.at)
