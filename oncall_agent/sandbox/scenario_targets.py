"""What a scenario's deploys act on: ECS clusters and services, Lambda aliases, ARNs; stable ids.

Shared by the moto seeding (`seed_aws`) and the stand-in seeding (`seed_standins`) so both describe the same
resources. A deploy names a catalog service when it can; the rules for when it does not are below.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from oncall_agent.domain.catalog import Service
from oncall_agent.sandbox.scenario import (
    CodeDeployDeploy,
    EcsDeploy,
    EcsServiceEvent,
    EcsStoppedTask,
    LambdaDeploy,
    Scenario,
    split_task_definition,
)

MOTO_ACCOUNT = "123456789012"
"""moto's default account; scenarios without `account` live here (moto derives the account from the key)."""

DEFAULT_ALIAS = "live"
DEFAULT_CLUSTER = "default"


def account_of(scenario: Scenario) -> str:
    return scenario.account or MOTO_ACCOUNT


def stable_uuid(*parts: object) -> str:
    """A UUID that depends only on `parts` (e.g. scenario id, kind, index): the same in every run."""
    digest = hashlib.sha256(":".join(str(part) for part in parts).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def ecs_target(scenario: Scenario, service: str) -> tuple[str, str]:
    """(cluster, ECS service name) for an ECS deploy's `service`.

    The deploy may name a catalog service or its ECS service name; otherwise (a service the agent does not
    watch) it runs in the cluster of the first catalog ECS service, or `default` when there is none.
    """
    for entry in scenario.services:
        if entry.ecs and service in (entry.name, entry.ecs.service):
            return entry.ecs.cluster, entry.ecs.service
    clusters = [entry.ecs.cluster for entry in scenario.services if entry.ecs]
    return (clusters[0] if clusters else DEFAULT_CLUSTER), service


def ecs_event_targets(scenario: Scenario) -> list[tuple[str, str]]:
    """(cluster, service) of every catalog ECS service, then of each ECS service an event names (format 2)."""
    targets = {(s.ecs.cluster, s.ecs.service): None for s in scenario.services if s.ecs}
    for event in scenario.events:
        if isinstance(event, EcsServiceEvent | EcsStoppedTask):
            targets.setdefault(ecs_event_target(scenario, event), None)
    return list(targets)


def ecs_event_target(scenario: Scenario, event: EcsServiceEvent | EcsStoppedTask) -> tuple[str, str]:
    """(cluster, ECS service) of an `ecs`/`ecs_task` event: its `cluster`, else the service's."""
    cluster, service = ecs_target(scenario, event.resource)
    return (event.cluster or cluster), service


def catalog_service_for(scenario: Scenario, deploy: EcsDeploy | LambdaDeploy | CodeDeployDeploy) -> Service | None:
    """The catalog service a deploy changed, if the catalog has it."""
    for entry in scenario.services:
        if isinstance(deploy, EcsDeploy) and entry.ecs and deploy.service in (entry.name, entry.ecs.service):
            return entry
        if isinstance(deploy, LambdaDeploy) and entry.lambda_ and entry.lambda_.function == deploy.function:
            return entry
        target = (entry.codedeploy.application, entry.codedeploy.group) if entry.codedeploy else None
        if isinstance(deploy, CodeDeployDeploy) and target == (deploy.application, deploy.group):
            return entry
    return None


def lambda_alias(scenario: Scenario, deploy: LambdaDeploy) -> str:
    """The alias a Lambda deploy moved: its own, the catalog's for that function, or `live`."""
    if deploy.alias:
        return deploy.alias
    entry = catalog_service_for(scenario, deploy)
    return entry.lambda_.alias if entry and entry.lambda_ and entry.lambda_.alias else DEFAULT_ALIAS


def latest_ecs_deploys(scenario: Scenario) -> dict[tuple[str, str], EcsDeploy]:
    """Per (cluster, service): the deploy in effect now (the latest at or before 0m)."""
    current: dict[tuple[str, str], EcsDeploy] = {}
    for deploy in sorted(scenario.deploys, key=lambda d: d.at):
        if isinstance(deploy, EcsDeploy) and deploy.at.total_seconds() <= 0:
            current[ecs_target(scenario, deploy.service)] = deploy
    return current


def task_definition_arn(scenario: Scenario, task_definition: str) -> str:
    family, revision = split_task_definition(task_definition)
    return f"arn:aws:ecs:{scenario.region}:{account_of(scenario)}:task-definition/{family}:{revision}"


def ecs_service_arn(scenario: Scenario, cluster: str, service: str) -> str:
    return f"arn:aws:ecs:{scenario.region}:{account_of(scenario)}:service/{cluster}/{service}"


def lambda_function_arn(scenario: Scenario, function: str) -> str:
    return f"arn:aws:lambda:{scenario.region}:{account_of(scenario)}:function:{function}"


def image_sha(image: str | None) -> str | None:
    """The commit sha an image tag names (`acme/checkout:a1b2c3d`), if the tag looks like one."""
    if not image or ":" not in image:
        return None
    tag = image.rsplit(":", 1)[1]
    is_hex = 7 <= len(tag) <= 40 and all(ch in "0123456789abcdef" for ch in tag)
    return tag if is_hex else None


def codedeploy_revision(scenario: Scenario, deploy: CodeDeployDeploy) -> dict[str, Any]:
    """The CodeDeploy `revision` of a deploy: a GitHub commit when it names one, else an S3 bundle."""
    service = catalog_service_for(scenario, deploy)
    if deploy.revision is not None:
        repository = service.repo if service and service.repo else f"{deploy.application}/{deploy.application}"
        return {
            "revisionType": "GitHub",
            "gitHubLocation": {"repository": repository, "commitId": deploy.revision},
        }
    location = {
        "bucket": f"{deploy.application}-releases",
        "key": f"{deploy.deployment_id}.zip",
        "bundleType": "zip",
    }
    return {"revisionType": "S3", "s3Location": location}


def elbv2_arn(scenario: Scenario, resource_id: str) -> str:
    """The ARN of a load balancer (`app/name/hash`) or target group (`targetgroup/name/hash`) id."""
    resource = resource_id if resource_id.startswith("targetgroup/") else f"loadbalancer/{resource_id}"
    return f"arn:aws:elasticloadbalancing:{scenario.region}:{account_of(scenario)}:{resource}"
