"""Lambda action executor (ports.ActionExecutor): point an alias back at an earlier published version.

Kind and parameters: `lambda.rollback` (function: a name or ARN; alias; version: the target, a published version
number given as `2`, `"2"`, `"fn:2"` or a qualified ARN, the form DeployRecord.previous takes;
clear_routing: optional bool, default false).

`plan` is a dry run with reads only (GetAlias, GetFunctionConfiguration): a missing function, alias or version,
a target that is not a published version, or a version Lambda marks Failed makes the plan infeasible with the
reason.

Weighted aliases: when the alias splits traffic (`RoutingConfig.AdditionalVersionWeights`, e.g. a canary) a
rollback would have to drop that split, and the executor refuses (infeasible) rather than silently removing
someone's canary. `clear_routing: true` in the parameters (so in the approved digest) says the split is to go:
the alias then moves to the target with no additional version, and `before` records the weights.

`execute` re-reads the alias and changes it only if it does not already serve exactly the target, so a retried
rollback is a no-op (the state is the idempotency record; the key is not needed). UpdateAlias carries the
RevisionId read by the plan: if someone moved the alias in between, Lambda refuses (PreconditionFailed) and the
action fails instead of overwriting their change; a retry plans again from the new state.
"""

from __future__ import annotations

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

ROLLBACK = "lambda.rollback"
KINDS = frozenset({ROLLBACK})
_NOT_FOUND = ("ResourceNotFoundException",)


class LambdaActionFailed(SourceError):
    """A Lambda action could not be carried out: invalid parameters, a missing target, or an AWS error."""


def function_name(value: str) -> str:
    """The function name from a name, a (partial) ARN `...:function:name[:qualifier]`, or `name:qualifier`."""
    return value.split(":function:", 1)[-1].split(":", 1)[0]


def target_version(value: Any, function: str) -> str:
    """The published version number a `version` parameter names (see the module doc for accepted forms)."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if ":" in text:
            named = function_name(text)
            if named != function:
                raise Infeasible(f"version {text!r} names function {named!r}, not {function!r}")
            text = text.rsplit(":", 1)[1]
    else:
        raise Infeasible(f"parameter 'version' must be a published version number, got {value!r}")
    if not text.isdigit() or int(text) < 1:
        raise Infeasible(f"version {text!r} is not a published version number ($LATEST and aliases are not)")
    return str(int(text))


def _weights(alias: dict[str, Any]) -> dict[str, float]:
    routing = alias.get("RoutingConfig") or {}
    weights = routing.get("AdditionalVersionWeights") or {}
    return {str(version): float(weight) for version, weight in weights.items()}


class LambdaActionExecutor(RegionExecutor):
    """Executes Lambda actions in one region; `client_for_region(region)` builds the read client."""

    SERVICE = "lambda"
    failure = LambdaActionFailed
    KINDS = KINDS

    def plan(self, action: ProposedAction) -> ActionPlan:
        """Dry run. Infeasible (not raised) when the target is missing or the parameters are wrong; AWS errors
        other than "not found" raise LambdaActionFailed."""
        return self._dry_run(action, lambda: self._plan(action)[0])

    def _execute(self, action: ProposedAction, idempotency_key: str) -> dict[str, Any]:
        """Make the change unless it is already made: `{"changed": bool, "before", "after", "summary", ...}`."""
        try:
            plan, function, alias = self._plan(action)
            if plan.before == plan.after:
                return {"changed": False, "before": plan.before, "after": plan.after, "summary": plan.summary}
            updated = self._client().update_alias(
                FunctionName=function,
                Name=alias["Name"],
                FunctionVersion=plan.after["version"],
                RoutingConfig={"AdditionalVersionWeights": {}},
                **({"RevisionId": alias["RevisionId"]} if alias.get("RevisionId") else {}),
            )
        except Infeasible as exc:
            raise self._failed(action, exc) from exc
        except AWS_ERRORS as exc:
            if error_code(exc) == "PreconditionFailedException":
                message = "the alias changed since it was read (someone else moved it): not overwritten"
                raise LambdaActionFailed(f"{action.kind}: {message}: {exc}") from exc
            raise LambdaActionFailed(f"{action.kind}: {exc}") from exc
        return {
            "changed": True,
            "before": plan.before,
            "after": plan.after,
            "summary": plan.summary,
            "alias_version": str(updated.get("FunctionVersion", plan.after["version"])),
        }

    # --- reads ------------------------------------------------------------------------------------------------

    def _plan(self, action: ProposedAction) -> tuple[ActionPlan, str, dict[str, Any]]:
        """The plan, the function name and the alias as read (its RevisionId guards the update)."""
        if action.kind not in KINDS:
            raise unsupported(action, KINDS)
        parameters = action.parameters
        function = function_name(text_parameter(parameters, "function"))
        name = text_parameter(parameters, "alias")
        target = target_version(parameters.get("version"), function)
        clear_routing = parameters.get("clear_routing", False)
        if not isinstance(clear_routing, bool):
            raise Infeasible(f"parameter 'clear_routing' must be true or false, got {clear_routing!r}")
        alias = self._alias(function, name)
        self._check_version(function, target)
        current = str(alias.get("FunctionVersion", ""))
        weights = _weights(alias)
        where = f"{function}:{name}"
        if weights and not clear_routing:
            raise Infeasible(
                f"alias {where} splits traffic ({current} plus weights {weights}): a rollback would drop that "
                "routing; refused (set clear_routing to true to roll back and remove the split)"
            )
        before: dict[str, Any] = {"version": current}
        if weights:
            before["routing"] = weights
        after: dict[str, Any] = {"version": target}
        if before == after:
            summary = f"alias {where} already points at version {target}: nothing to change"
        else:
            summary = f"point alias {where} back from version {current} to version {target}"
            if weights:
                summary += f", removing its weighted routing {weights}"
        return ActionPlan(feasible=True, summary=summary, before=before, after=after), function, alias

    def _alias(self, function: str, name: str) -> dict[str, Any]:
        try:
            alias: dict[str, Any] = self._client().get_alias(FunctionName=function, Name=name)
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                raise Infeasible(f"alias {name!r} of function {function!r} not found: {exc}") from exc
            raise
        return alias

    def _check_version(self, function: str, version: str) -> None:
        try:
            found = self._client().get_function_configuration(FunctionName=function, Qualifier=version)
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                raise Infeasible(f"version {version} of function {function!r} not found") from exc
            raise
        if found.get("State") == "Failed":
            reason = found.get("StateReason") or "no reason given"
            raise Infeasible(f"version {version} of function {function!r} is in state Failed ({reason})")
