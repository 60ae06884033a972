"""ECS action executor (ports.ActionExecutor): roll a service back to a task definition, scale it, restart it.

Kinds and parameters: `ecs.rollback` (cluster, service, task_definition: the target `family:revision`),
`ecs.scale` (cluster, service, desired_count), `ecs.restart` (cluster, service).

`plan` is a dry run with reads only (DescribeServices, DescribeTaskDefinition): a missing cluster, service or
task definition, an inactive one, or a rollback to another family makes the plan infeasible with the reason.
`execute` re-reads the service and changes it only if it is not already in the wanted state, so a retried
rollback or scale is a no-op. Task definitions are compared as `family:revision`: ECS reports ARNs, while moto
echoes whatever UpdateService was given.

Restart has no state to compare and UpdateService takes no idempotency token, so after forcing a new
deployment the executor tags the service `oncall-agent:restart-key=<key>`; a retry with the same key finds the
tag and does nothing. The tag is written after the update: a crash in between makes a retry restart once more
(one extra rolling replacement), never report a restart that did not happen.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from botocore.exceptions import ClientError

from oncall_agent.adapters.aws.executor_base import (
    AWS_ERRORS,
    Infeasible,
    RegionExecutor,
    error_code,
    text_parameter,
    unsupported,
)
from oncall_agent.domain.action import ProposedAction
from oncall_agent.domain.errors import SourceError
from oncall_agent.ports import ActionPlan

ROLLBACK, SCALE, RESTART = "ecs.rollback", "ecs.scale", "ecs.restart"
KINDS = frozenset({ROLLBACK, SCALE, RESTART})
RESTART_TAG = "oncall-agent:restart-key"
MAX_DESIRED_COUNT = 5000  # ECS quota: tasks per service
_TAG_VALUE = re.compile(r"[\w .:/=+@-]{1,256}")  # what ECS accepts in a tag value


class ActionFailed(SourceError):
    """An ECS action could not be carried out: invalid parameters, a missing target, or an AWS error."""


def task_definition_name(value: str) -> str:
    """`family:revision` from a task definition ARN, or the value as given."""
    return value.split(":task-definition/", 1)[1] if ":task-definition/" in value else value


def _desired_count(parameters: dict[str, Any]) -> int:
    value = parameters.get("desired_count")
    # Runbook templates render to strings ("24"); the digest covers exactly that, so accept plain digits.
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DESIRED_COUNT:
        raise Infeasible(f"parameter 'desired_count' must be an integer 0..{MAX_DESIRED_COUNT}, got {value!r}")
    return value


def _primary_deployment(service: dict[str, Any]) -> str | None:
    return next((d.get("id") for d in service.get("deployments") or [] if d.get("status") == "PRIMARY"), None)


def restart_tag_value(idempotency_key: str) -> str:
    """The key itself when ECS accepts it as a tag value, else a digest of it."""
    if _TAG_VALUE.fullmatch(idempotency_key):
        return idempotency_key
    return "sha256:" + hashlib.sha256(idempotency_key.encode()).hexdigest()


class EcsActionExecutor(RegionExecutor):
    """Executes ECS actions in one region; `client_for_region(region)` builds the read client."""

    SERVICE = "ecs"
    failure = ActionFailed
    KINDS = KINDS

    def plan(self, action: ProposedAction) -> ActionPlan:
        """Dry run. Infeasible (not raised) when the target is missing or the parameters are wrong; AWS errors
        other than "not found" raise ActionFailed."""
        return self._dry_run(action, lambda: self._plan(action)[0])

    def _execute(self, action: ProposedAction, idempotency_key: str) -> dict[str, Any]:
        """Make the change unless it is already made: `{"changed": bool, "before", "after", "summary", ...}`."""
        try:
            plan, service = self._plan(action)
            if action.kind == RESTART:
                return self._restart(service, plan, idempotency_key)
            if plan.before == plan.after:
                return {"changed": False, "before": plan.before, "after": plan.after, "summary": plan.summary}
            if action.kind == ROLLBACK:
                change = {"taskDefinition": plan.after["task_definition"]}
            else:
                change = {"desiredCount": plan.after["desired_count"]}
            updated = self._update(service, **change)
        except (Infeasible, *AWS_ERRORS) as exc:
            raise self._failed(action, exc) from exc
        return {
            "changed": True,
            "before": plan.before,
            "after": plan.after,
            "summary": plan.summary,
            "deployment": _primary_deployment(updated),
        }

    # --- reads ------------------------------------------------------------------------------------------------

    def _plan(self, action: ProposedAction) -> tuple[ActionPlan, dict[str, Any]]:
        if action.kind not in KINDS:
            raise unsupported(action, KINDS)
        parameters = action.parameters
        service = self._service(text_parameter(parameters, "cluster"), text_parameter(parameters, "service"))
        current = task_definition_name(str(service.get("taskDefinition", "")))
        where = f"{service['clusterArn'].rsplit('/', 1)[-1]}/{service['serviceName']}"
        before: dict[str, Any]
        after: dict[str, Any]
        if action.kind == ROLLBACK:
            target = self._rollback_target(text_parameter(parameters, "task_definition"), current)
            before, after = {"task_definition": current}, {"task_definition": target}
            summary = f"roll {where} back from {current} to {target}"
        elif action.kind == SCALE:
            desired = _desired_count(parameters)
            before, after = {"desired_count": service.get("desiredCount")}, {"desired_count": desired}
            summary = f"scale {where} from {service.get('desiredCount')} to {desired} tasks"
        else:
            before = {"task_definition": current, "deployment": _primary_deployment(service)}
            after = {"task_definition": current, "force_new_deployment": True}
            summary = f"restart {where}: replace its tasks with new ones of {current}"
        if action.kind != RESTART and before == after:
            summary = f"{where} is already in the wanted state ({after}): nothing to change"
        return ActionPlan(feasible=True, summary=summary, before=before, after=after), service

    def _service(self, cluster: str, name: str) -> dict[str, Any]:
        try:
            answer = self._client().describe_services(cluster=cluster, services=[name])
        except ClientError as exc:
            if error_code(exc) == "ClusterNotFoundException":
                raise Infeasible(f"cluster {cluster!r} not found") from exc
            raise
        services = [s for s in answer.get("services") or [] if s.get("serviceName") == name.rsplit("/", 1)[-1]]
        if not services:
            raise Infeasible(f"service {name!r} not found in cluster {cluster!r}")
        service: dict[str, Any] = services[0]
        if service.get("status") != "ACTIVE":
            raise Infeasible(f"service {name!r} in cluster {cluster!r} is {service.get('status')}, not ACTIVE")
        return service

    def _rollback_target(self, wanted: str, current: str) -> str:
        try:
            described = self._client().describe_task_definition(taskDefinition=wanted)["taskDefinition"]
        except ClientError as exc:
            if error_code(exc) in ("ClientException", "InvalidParameterException"):
                raise Infeasible(f"task definition {wanted!r} not found") from exc
            raise
        target = task_definition_name(str(described.get("taskDefinitionArn", wanted)))
        if described.get("status") != "ACTIVE":
            raise Infeasible(f"task definition {target} is {described.get('status')}: ECS cannot deploy it")
        if target.rpartition(":")[0] != current.rpartition(":")[0]:
            raise Infeasible(f"task definition {target} is not a revision of the service's family ({current})")
        return target

    # --- writes -----------------------------------------------------------------------------------------------

    def _update(self, service: dict[str, Any], **change: Any) -> dict[str, Any]:
        answer = self._client().update_service(cluster=service["clusterArn"], service=service["serviceName"], **change)
        updated: dict[str, Any] = answer.get("service") or {}
        return updated

    def _restart(self, service: dict[str, Any], plan: ActionPlan, idempotency_key: str) -> dict[str, Any]:
        marker = restart_tag_value(idempotency_key)
        tags = self._client().list_tags_for_resource(resourceArn=service["serviceArn"]).get("tags") or []
        if any(t.get("key") == RESTART_TAG and t.get("value") == marker for t in tags):
            summary = f"already restarted for this key: {plan.summary}"
            return {"changed": False, "before": plan.before, "after": plan.before, "summary": summary}
        updated = self._update(service, forceNewDeployment=True)
        recorded = True
        try:
            self._client().tag_resource(resourceArn=service["serviceArn"], tags=[{"key": RESTART_TAG, "value": marker}])
        except AWS_ERRORS:
            recorded = False  # the restart happened; only a retry's no-op check is lost
        after = {**plan.before, "deployment": _primary_deployment(updated)}
        summary = plan.summary
        return {"changed": True, "before": plan.before, "after": after, "summary": summary, "key_recorded": recorded}
