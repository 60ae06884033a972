"""CloudTrail deploy events of one catalog service as DeployRecords, per kind, and how `previous` is found.

`events` are the kind's successful events, oldest first, reaching back before the window so the deploy before
each one is known. `previous` is the first of these that answers (`details["previous_source"]` says which):

ECS, `family:revision`:
  1. `cloudtrail`: the task definition the service's preceding UpdateService set;
  2. `response`: the ACTIVE deployment (the one being replaced) in the event's response elements;
  3. `revision-1`: revision - 1 of the family, if ECS still describes it (ACTIVE or INACTIVE). Pipelines
     register one revision per release, so it ran before unless a registered revision was never deployed.
Lambda, `function:version`:
  1. `cloudtrail`: the version the alias's preceding UpdateAlias set;
  2. `version-1`: version - 1, if Lambda still has it (versions are published per release and kept).
CodeDeploy, deployment id:
  1. `cloudtrail`: the deployment the group's preceding CreateDeployment created; otherwise unknown.

Enrichment clients (ECS, Lambda, CodeDeploy) are optional and best effort: an error leaves fields out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from oncall_agent.adapters.aws.cloudtrail_events import TrailEvent, console_link
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.records import DeployKind, DeployRecord

_AWS_ERRORS = (BotoCoreError, ClientError)


def _last_segment(value: str) -> str:
    # Cluster and service parameters may be names or ARNs (`.../cluster/name`, `service/name`, `service/c/name`).
    return value.rsplit("/", 1)[-1]


def task_definition_name(value: str) -> str:
    """`family:revision` (or a bare family) from a task definition ARN or name as given."""
    return value.split(":task-definition/", 1)[1] if ":task-definition/" in value else value


def _revision(name: str) -> tuple[str, int | None]:
    family, _, revision = name.rpartition(":")
    return (family, int(revision)) if family and revision.isdigit() else (name, None)


def _describe_task_definition(ecs: Any, name: str) -> dict[str, Any] | None:
    if ecs is None:
        return None
    try:
        found = ecs.describe_task_definition(taskDefinition=name).get("taskDefinition")
    except _AWS_ERRORS:
        return None
    return found if isinstance(found, dict) else None


def _record(
    event: TrailEvent, service: Service, kind: DeployKind, target: str, region: str, **fields: Any
) -> DeployRecord:
    return DeployRecord(
        kind=kind,
        service=service.name,
        target=target,
        at=event.at,
        actor=event.username,
        source_event_id=event.event_id,
        link=console_link(region, event.event_id),
        **fields,
    )


# --- ECS ------------------------------------------------------------------------------------------------------


def _ecs_target(event: TrailEvent) -> tuple[str, str]:
    request = event.request
    return _last_segment(str(request.get("cluster") or "default")), _last_segment(str(request.get("service") or ""))


def _response_service(event: TrailEvent) -> dict[str, Any]:
    value = event.response.get("service")
    return value if isinstance(value, dict) else {}


def _ecs_previous(event: TrailEvent, identifier: str, before: str | None, ecs: Any) -> tuple[str | None, str | None]:
    if before:
        return before, "cloudtrail"
    for deployment in _response_service(event).get("deployments") or []:
        name = task_definition_name(str(deployment.get("taskDefinition") or ""))
        if deployment.get("status") == "ACTIVE" and name and name != identifier:
            return name, "response"
    family, revision = _revision(identifier)
    if revision is not None and revision > 1 and _describe_task_definition(ecs, f"{family}:{revision - 1}"):
        return f"{family}:{revision - 1}", "revision-1"
    return None, None


def _ecs_details(event: TrailEvent, identifier: str, described: dict[str, Any] | None) -> dict[str, Any]:
    cluster, ecs_service = _ecs_target(event)
    details: dict[str, Any] = {"cluster": cluster, "ecs_service": ecs_service, "task_definition": identifier}
    arn = (described or {}).get("taskDefinitionArn") or event.resource("AWS::ECS::TaskDefinition")
    if arn:
        details["task_definition_arn"] = arn
    images = {c.get("name"): c.get("image") for c in (described or {}).get("containerDefinitions") or []}
    if images:
        details["images"] = images
        if len(images) == 1:
            details["image"] = next(iter(images.values()))
    for key, name in (("desiredCount", "desired_count"), ("forceNewDeployment", "force_new_deployment")):
        if key in event.request:
            details[name] = event.request[key]
    return details


def ecs_deploys(
    events: list[TrailEvent], service: Service, ecs: Any, region: str, start: datetime
) -> list[DeployRecord]:
    """UpdateService events of the service's (cluster, service) that set a task definition, from `start` on."""
    if service.ecs is None:
        return []
    wanted = (service.ecs.cluster, service.ecs.service)
    records: list[DeployRecord] = []
    before: str | None = None
    for event in events:
        if not event.request.get("taskDefinition") or _ecs_target(event) != wanted:
            continue
        given = _response_service(event).get("taskDefinition") or event.request["taskDefinition"]
        identifier = task_definition_name(str(given))
        bare = _revision(identifier)[1] is None
        described = _describe_task_definition(ecs, identifier) if bare or event.at >= start else None
        if bare and described:
            # A bare family deploys its latest revision; ECS can only say which one is latest now.
            identifier = task_definition_name(str(described.get("taskDefinitionArn", identifier)))
        if event.at >= start:
            previous, source = _ecs_previous(event, identifier, before, ecs)
            details = _ecs_details(event, identifier, described) | {"previous_source": source}
            target = event.resource("AWS::ECS::Service") or _response_service(event).get("serviceArn")
            target = target or f"{wanted[0]}/{wanted[1]}"
            fields = {"identifier": identifier, "previous": previous, "details": details}
            records.append(_record(event, service, DeployKind.ECS, str(target), region, **fields))
        before = identifier
    return records


# --- Lambda ---------------------------------------------------------------------------------------------------


def function_name(value: str) -> str:
    """The function name from a name, a (partial) ARN `...:function:name[:qualifier]`, or `name:qualifier`."""
    return value.split(":function:", 1)[-1].split(":", 1)[0]


def _lambda_call(lam: Any, operation: str, **params: Any) -> dict[str, Any] | None:
    if lam is None:
        return None
    try:
        answer: dict[str, Any] = getattr(lam, operation)(**params)
    except _AWS_ERRORS:
        return None
    return answer


def _lambda_previous(function: str, version: str, before: str | None, lam: Any) -> tuple[str | None, str | None]:
    if before:
        return f"{function}:{before}", "cloudtrail"
    if version.isdigit() and int(version) > 1:
        prior = str(int(version) - 1)
        if _lambda_call(lam, "get_function_configuration", FunctionName=function, Qualifier=prior):
            return f"{function}:{prior}", "version-1"
    return None, None


def lambda_deploys(
    events: list[TrailEvent], service: Service, lam: Any, region: str, start: datetime
) -> list[DeployRecord]:
    """UpdateAlias events of the service's function (and alias, when the catalog names one), from `start` on."""
    target = service.lambda_
    if target is None:
        return []
    records: list[DeployRecord] = []
    before: dict[str, str] = {}  # alias -> the version it was moved to last
    for event in events:
        function = function_name(str(event.request.get("functionName") or ""))
        alias = str(event.request.get("name") or event.response.get("name") or "")
        version = str(event.request.get("functionVersion") or event.response.get("functionVersion") or "")
        if function != target.function or (target.alias and alias != target.alias) or not version:
            continue
        if event.at >= start:
            previous, source = _lambda_previous(function, version, before.get(alias), lam)
            details: dict[str, Any] = {"function": function, "alias": alias, "version": version}
            details["previous_source"] = source
            if event.request.get("routingConfig"):
                details["routing_config"] = event.request["routingConfig"]
            current = _lambda_call(lam, "get_alias", FunctionName=function, Name=alias)
            if current and current.get("FunctionVersion"):
                details["alias_version_now"] = current["FunctionVersion"]
            fields = {"identifier": f"{function}:{version}", "previous": previous, "details": details}
            records.append(_record(event, service, DeployKind.LAMBDA, function, region, **fields))
        before[alias] = version
    return records


# --- CodeDeploy -----------------------------------------------------------------------------------------------


def _codedeploy_details(event: TrailEvent, deployment_id: str, codedeploy: Any) -> dict[str, Any]:
    request = event.request
    details: dict[str, Any] = {
        "application": request.get("applicationName"),
        "deployment_group": request.get("deploymentGroupName"),
        "deployment_id": deployment_id,
    }
    revision = request.get("revision")
    if isinstance(revision, dict):
        details["revision"] = revision
        commit = (revision.get("gitHubLocation") or {}).get("commitId")
        if commit:
            details["commit"] = commit
    if codedeploy is not None:
        try:
            info = codedeploy.get_deployment(deploymentId=deployment_id).get("deploymentInfo") or {}
        except _AWS_ERRORS:
            info = {}
        if info.get("status"):
            details["status"] = info["status"]
        if info.get("previousRevision"):
            details["previous_revision"] = info["previousRevision"]
    return details


def codedeploy_deploys(
    events: list[TrailEvent], service: Service, codedeploy: Any, region: str, start: datetime
) -> list[DeployRecord]:
    """CreateDeployment events of the service's application and group, from `start` on."""
    if service.codedeploy is None:
        return []
    wanted = (service.codedeploy.application, service.codedeploy.group)
    records: list[DeployRecord] = []
    before: str | None = None
    for event in events:
        deployment_id = event.response.get("deploymentId")
        group = (event.request.get("applicationName"), event.request.get("deploymentGroupName"))
        if group != wanted or not deployment_id:
            continue
        if event.at >= start:
            details = _codedeploy_details(event, str(deployment_id), codedeploy)
            details["previous_source"] = "cloudtrail" if before else None
            fields = {"identifier": str(deployment_id), "previous": before, "details": details}
            records.append(_record(event, service, DeployKind.CODEDEPLOY, "/".join(wanted), region, **fields))
        before = str(deployment_id)
    return records
