"""Seed a scenario's deploy history into moto: ECS task definitions and services, Lambda versions and
aliases, CodeDeploy applications, groups and deployments.

Identifiers must match the scenario exactly, because the truth names them (`checkout:42`, version 17,
`d-ABC123`). moto numbers task definition revisions and Lambda versions sequentially from 1, so seeding
registers/publishes every number up to the highest one named and deregisters the ECS fillers (they stay
discoverable as INACTIVE, as on AWS). An ECS service is created on the task definition in effect now: the
latest ECS deploy at or before 0m (`previous` only describes what it replaced). A deploy in the future has
its task definition registered but does not move the service or alias.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta
from typing import Any

from oncall_agent.sandbox import moto_backdate
from oncall_agent.sandbox.scenario import (
    CodeDeployDeploy,
    EcsDeploy,
    EcsStoppedTask,
    LambdaDeploy,
    Scenario,
    resolve_time,
    split_task_definition,
)
from oncall_agent.sandbox.scenario_targets import (
    DEFAULT_ALIAS,
    account_of,
    codedeploy_revision,
    ecs_event_targets,
    elbv2_arn,
    lambda_alias,
    latest_ecs_deploys,
    task_definition_arn,
)
from oncall_agent.sandbox.seed_aws import AwsClients, SeedSummary

QUIET_DEPLOY_AGE = timedelta(days=3)
"""When a catalog service has no deploy in the scenario, its last rollout finished this long ago."""


def service_role(iam: Any, name: str, principal: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}],
    }
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])


def _ecs_revisions(scenario: Scenario) -> dict[str, dict[int, str]]:
    """family -> {revision: image}. Images a deploy names win over placeholders for `previous` revisions."""
    wanted: dict[str, dict[int, str]] = {}
    deploys = [d for d in scenario.deploys if isinstance(d, EcsDeploy)]
    for deploy in deploys:
        family, revision = split_task_definition(deploy.task_definition)
        wanted.setdefault(family, {})[revision] = deploy.image or f"{family}:r{revision}"
    for deploy in deploys:
        family, _ = split_task_definition(deploy.task_definition)
        base = deploy.image.rsplit(":", 1)[0] if deploy.image else family
        if deploy.previous:
            wanted[family].setdefault(split_task_definition(deploy.previous)[1], f"{base}:r-previous")
    current = latest_ecs_deploys(scenario)
    for cluster, service in ecs_event_targets(scenario):
        if (cluster, service) not in current:
            # No deploy in effect: the service runs revision 1 of a family named after it.
            wanted.setdefault(service, {}).setdefault(1, f"{service}:stable")
    for event in scenario.events:
        if isinstance(event, EcsStoppedTask) and event.task_definition:
            family, revision = split_task_definition(event.task_definition)
            wanted.setdefault(family, {}).setdefault(revision, f"{family}:r{revision}")
    return wanted


def _container(scenario: Scenario, family: str, image: str) -> dict[str, Any]:
    container: dict[str, Any] = {"name": family, "image": image, "essential": True, "memory": 512, "cpu": 256}
    container["portMappings"] = [{"containerPort": 8080, "protocol": "tcp"}]
    groups = [g for s in scenario.services if s.ecs and s.ecs.service == family for g in s.log_groups]
    if groups:
        options = {
            "awslogs-group": groups[0],
            "awslogs-region": scenario.region,
            "awslogs-stream-prefix": family,
        }
        container["logConfiguration"] = {"logDriver": "awslogs", "options": options}
    return container


def _register_family(ecs: Any, scenario: Scenario, family: str, revisions: dict[int, str]) -> int:
    fillers = []
    for revision in range(1, max(revisions) + 1):
        image = revisions.get(revision, f"{family}:r{revision}")
        registered = ecs.register_task_definition(
            family=family, containerDefinitions=[_container(scenario, family, image)]
        )["taskDefinition"]
        if registered["revision"] != revision:  # seeding twice into the same moto state
            raise RuntimeError(f"moto gave {family}:{registered['revision']} for {family}:{revision}: reset moto first")
        if revision not in revisions:
            fillers.append(registered["taskDefinitionArn"])
    for arn in fillers:
        ecs.deregister_task_definition(taskDefinition=arn)
    return max(revisions)


def _load_balancers(scenario: Scenario, cluster: str, service: str, container: str) -> dict[str, Any]:
    """The catalog's target groups on the service, as DescribeServices `loadBalancers` reports them."""
    entry = next((s for s in scenario.services if s.ecs and (s.ecs.cluster, s.ecs.service) == (cluster, service)), None)
    groups = entry.ecs.target_groups if entry and entry.ecs else []
    if not groups:
        return {}
    return {
        "loadBalancers": [
            {"targetGroupArn": elbv2_arn(scenario, group), "containerName": container, "containerPort": 8080}
            for group in groups
        ]
    }


def seed_ecs(scenario: Scenario, now: datetime, ecs: Any, summary: SeedSummary) -> None:
    """Task definitions with the scenario's revision numbers, then one service per ECS target."""
    for family, revisions in _ecs_revisions(scenario).items():
        summary.task_definitions += _register_family(ecs, scenario, family, revisions)
    current = latest_ecs_deploys(scenario)
    targets = dict.fromkeys(ecs_event_targets(scenario)) | dict.fromkeys(current)
    for cluster in dict.fromkeys(cluster for cluster, _ in targets):
        ecs.create_cluster(clusterName=cluster)
    for cluster, service in targets:
        deploy = current.get((cluster, service))
        task_definition = deploy.task_definition if deploy else f"{service}:1"
        ecs.create_service(
            cluster=cluster,
            serviceName=service,
            taskDefinition=task_definition_arn(scenario, task_definition),
            desiredCount=2,
            **_load_balancers(scenario, cluster, service, split_task_definition(task_definition)[0]),
        )
        started = resolve_time(deploy.at, now) if deploy else now - QUIET_DEPLOY_AGE
        done = moto_backdate.finish_ecs_rollout(account_of(scenario), scenario.region, cluster, service, started)
        summary.backdated += done
        summary.ecs_services += 1


def _lambda_plan(scenario: Scenario) -> dict[str, tuple[int, dict[str, str]]]:
    """function -> (highest version to publish, {alias: version it points at now})."""
    plan: dict[str, tuple[int, dict[str, str]]] = {}
    for deploy in sorted((d for d in scenario.deploys if isinstance(d, LambdaDeploy)), key=lambda d: d.at):
        highest, aliases = plan.get(deploy.function, (1, {}))
        highest = max(highest, int(deploy.version), int(deploy.previous or 1))
        alias = lambda_alias(scenario, deploy)
        if deploy.at.total_seconds() <= 0:
            aliases[alias] = deploy.version
        else:  # not deployed yet: the alias still serves what it would replace
            aliases.setdefault(alias, deploy.previous or deploy.version)
        plan[deploy.function] = (highest, aliases)
    for service in scenario.services:
        if service.lambda_ and service.lambda_.function not in plan:
            plan[service.lambda_.function] = (1, {service.lambda_.alias or DEFAULT_ALIAS: "1"})
    return plan


def function_code(release: int) -> bytes:
    # Every published version needs different code: Lambda (and moto) publish nothing when nothing changed.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", f"RELEASE = {release}\n\ndef handler(event, context):\n    return RELEASE\n")
    return buffer.getvalue()


def seed_lambda(scenario: Scenario, clients: AwsClients, summary: SeedSummary) -> None:
    """Functions with versions 1..N published and aliases on the deployed versions."""
    plan = _lambda_plan(scenario)
    if not plan:
        return
    role = service_role(clients.iam, "oncall-sandbox-lambda", "lambda.amazonaws.com")
    declared = {r.id for r in scenario.resources if r.type == "AWS::Lambda::Function"}  # created with resources
    for function, (highest, aliases) in plan.items():
        if function not in declared:
            clients.lambda_.create_function(
                FunctionName=function,
                Runtime="python3.12",
                Role=role,
                Handler="index.handler",
                Code={"ZipFile": function_code(1)},
            )
        for release in range(1, highest + 1):
            if release > 1:
                clients.lambda_.update_function_code(FunctionName=function, ZipFile=function_code(release))
            clients.lambda_.publish_version(FunctionName=function, Description=f"release {release}")
        for alias, version in aliases.items():
            clients.lambda_.create_alias(FunctionName=function, Name=alias, FunctionVersion=version)
        summary.lambda_functions += 1
        summary.lambda_versions += highest


def seed_codedeploy(scenario: Scenario, now: datetime, clients: AwsClients, summary: SeedSummary) -> None:
    """Applications and groups from the catalog and deploys; each past deploy as a succeeded deployment."""
    groups = {(s.codedeploy.application, s.codedeploy.group) for s in scenario.services if s.codedeploy}
    deploys = sorted((d for d in scenario.deploys if isinstance(d, CodeDeployDeploy)), key=lambda d: d.at)
    groups |= {(d.application, d.group) for d in deploys}
    if not groups:
        return
    role = service_role(clients.iam, "oncall-sandbox-codedeploy", "codedeploy.amazonaws.com")
    for application in sorted({application for application, _ in groups}):
        clients.codedeploy.create_application(applicationName=application, computePlatform="Server")
    for application, group in sorted(groups):
        clients.codedeploy.create_deployment_group(
            applicationName=application, deploymentGroupName=group, serviceRoleArn=role
        )
    for deploy in (d for d in deploys if d.at.total_seconds() <= 0):
        moto_id = clients.codedeploy.create_deployment(
            applicationName=deploy.application,
            deploymentGroupName=deploy.group,
            revision=codedeploy_revision(scenario, deploy),
        )["deploymentId"]
        at = resolve_time(deploy.at, now)
        renamed = moto_backdate.finish_codedeploy_deployment(
            account_of(scenario), scenario.region, moto_id, deploy.deployment_id, at
        )
        summary.codedeploy_ids[deploy.deployment_id] = deploy.deployment_id if renamed else moto_id
        summary.backdated += renamed
        summary.codedeploy_deployments += 1


def seed_deploys(scenario: Scenario, now: datetime, clients: AwsClients, summary: SeedSummary) -> None:
    seed_ecs(scenario, now, clients.ecs, summary)
    seed_lambda(scenario, clients, summary)
    seed_codedeploy(scenario, now, clients, summary)
