"""CodeDeploy action executor (ports.ActionExecutor): redeploy the revision of the last good deployment.

Kind and parameters: `codedeploy.rollback` (application, group, deployment_id: the last good deployment, whose
revision is deployed again to the same group).

`plan` is a dry run with reads only (GetDeploymentGroup, GetDeployment, ListDeployments, BatchGetDeployments):
a missing application, group or deployment, a deployment of another application or group, or one that did not
succeed makes the plan infeasible with the reason. `before` is the revision the group runs now (its newest
deployment that did not fail or stop, among those of the last `lookback`, plus the group's
`lastAttemptedDeployment`/`lastSuccessfulDeployment` where CodeDeploy reports them); `after` is the target's
revision. Revisions are compared by `revision_label` (type and location, e.g. `github:acme/checkout@a1b2c3d`).

`execute` is idempotent by key: CreateDeployment takes no client token, so the deployment is created with the
description `oncall-agent rollback <key>` (a digest of the key when the key is long or unusual) and a retry
looks for that description among the group's recent deployments first and returns the one it finds instead of
creating another (or fails, naming it, when it ended Failed or Stopped: the key's rollback was tried). When the
group already runs (or is rolling out) the target revision, nothing is created. The lookup covers a retry after
a crash; two executions with the same key at the very same moment could both create one (the action store
marks an action executing before it runs, so that does not happen in the agent).

CodeDeploy refuses a deployment while another one of the group is in progress
(DeploymentLimitExceededException / "already has an active deployment"): that surfaces as
CodeDeployActionFailed, and the retry can run once the active one finishes or is stopped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from oncall_agent.adapters.aws.executor_base import (
    AWS_ERRORS,
    ActingClients,
    Infeasible,
    RegionExecutor,
    error_code,
    text_parameter,
    unsupported,
)
from oncall_agent.domain.action import ProposedAction
from oncall_agent.domain.errors import SourceError
from oncall_agent.ports import ActionPlan

ROLLBACK = "codedeploy.rollback"
KINDS = frozenset({ROLLBACK})
DESCRIPTION_PREFIX = "oncall-agent rollback "
DEFAULT_LOOKBACK = timedelta(days=14)
MAX_SCANNED = 250  # deployments of one group read per plan (BatchGetDeployments takes 25 at a time)
ENDED_BADLY = frozenset({"Failed", "Stopped"})
_BATCH = 25
_NOT_FOUND = frozenset(
    {
        "ApplicationDoesNotExistException",
        "DeploymentGroupDoesNotExistException",
        "DeploymentDoesNotExistException",
        "InvalidDeploymentIdException",
        "InvalidApplicationNameException",
        "InvalidDeploymentGroupNameException",
    }
)
_PLAIN_KEY = re.compile(r"[\w.:/=+@-]{1,128}")


class CodeDeployActionFailed(SourceError):
    """A CodeDeploy action could not be carried out: invalid parameters, a missing target, or an AWS error."""


def rollback_description(idempotency_key: str) -> str:
    """The deployment description that records the key: the key itself when plain and short, else its digest."""
    if _PLAIN_KEY.fullmatch(idempotency_key):
        return DESCRIPTION_PREFIX + idempotency_key
    return DESCRIPTION_PREFIX + "sha256:" + hashlib.sha256(idempotency_key.encode()).hexdigest()


def revision_label(revision: dict[str, Any] | None) -> str | None:
    """A stable name for a CodeDeploy revision: equal labels mean the same bundle.

    `github:<repository>@<commit>`, `s3://<bucket>/<key>[?versionId=..][#etag]`, `appspec:sha256:<digest>` for
    String/AppSpecContent revisions; anything else as sorted JSON. None when there is no revision.
    """
    if not revision:
        return None
    kind = revision.get("revisionType")
    github = revision.get("gitHubLocation") or {}
    s3 = revision.get("s3Location") or {}
    if kind == "GitHub" and github:
        return f"github:{github.get('repository')}@{github.get('commitId')}"
    if kind == "S3" and s3:
        label = f"s3://{s3.get('bucket')}/{s3.get('key')}"
        if s3.get("version"):
            label += f"?versionId={s3['version']}"
        if s3.get("eTag"):
            label += f"#{s3['eTag']}"
        return label
    content = (revision.get("string") or revision.get("appSpecContent") or {}).get("content")
    if kind in ("String", "AppSpecContent") and content is not None:
        return "appspec:sha256:" + hashlib.sha256(str(content).encode()).hexdigest()
    return json.dumps(revision, sort_keys=True, default=str)


@dataclass(frozen=True)
class _Found:
    """What a plan read: the plan, the target revision, the group's current and recent deployments."""

    plan: ActionPlan
    application: str
    group: str
    revision: dict[str, Any]
    current: dict[str, Any] | None
    recent: list[dict[str, Any]]


def _created(info: dict[str, Any]) -> datetime:
    value = info.get("createTime")
    return value if isinstance(value, datetime) else datetime.min.replace(tzinfo=UTC)


class CodeDeployActionExecutor(RegionExecutor):
    """Executes CodeDeploy actions in one region; `client_for_region(region)` builds the read client."""

    SERVICE = "codedeploy"
    failure = CodeDeployActionFailed
    KINDS = KINDS

    def __init__(
        self,
        client_for_region: Callable[[str], Any],
        region: str,
        acting: ActingClients | None = None,
        *,
        lookback: timedelta = DEFAULT_LOOKBACK,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(client_for_region, region, acting)
        self._lookback = lookback
        self._now = now

    def plan(self, action: ProposedAction) -> ActionPlan:
        """Dry run. Infeasible (not raised) when the target is missing or the parameters are wrong; AWS errors
        other than "not found" raise CodeDeployActionFailed."""
        return self._dry_run(action, lambda: self._plan(action).plan)

    def _execute(self, action: ProposedAction, idempotency_key: str) -> dict[str, Any]:
        """Create the rollback deployment once: `{"changed": bool, "before", "after", "summary", "deployment"}`."""
        description = rollback_description(idempotency_key)
        try:
            found = self._plan(action)
            plan = found.plan
            mine = next((d for d in found.recent if d.get("description") == description), None)
            if mine is not None and mine.get("status") in ENDED_BADLY:
                raise Infeasible(
                    f"the rollback deployment {mine.get('deploymentId')} created for this key ended "
                    f"{mine.get('status')}; a new rollback needs a new action"
                )
            if mine is not None:
                summary = f"already created for this key: deployment {mine.get('deploymentId')} ({plan.summary})"
                return {
                    "changed": False,
                    "before": plan.before,
                    "after": plan.after,
                    "summary": summary,
                    "deployment": mine.get("deploymentId"),
                    "status": mine.get("status"),
                }
            if plan.before == plan.after:
                current = found.current.get("deploymentId") if found.current else None
                return {
                    "changed": False,
                    "before": plan.before,
                    "after": plan.after,
                    "summary": plan.summary,
                    "deployment": current,
                }
            created = self._client().create_deployment(
                applicationName=found.application,
                deploymentGroupName=found.group,
                revision=found.revision,
                description=description,
            )
        except (Infeasible, *AWS_ERRORS) as exc:
            raise self._failed(action, exc) from exc
        return {
            "changed": True,
            "before": plan.before,
            "after": plan.after,
            "summary": plan.summary,
            "deployment": created.get("deploymentId"),
        }

    # --- reads ------------------------------------------------------------------------------------------------

    def _plan(self, action: ProposedAction) -> _Found:
        if action.kind not in KINDS:
            raise unsupported(action, KINDS)
        parameters = action.parameters
        application, group = text_parameter(parameters, "application"), text_parameter(parameters, "group")
        deployment_id = text_parameter(parameters, "deployment_id")
        group_info = self._group(application, group)
        target = self._deployment(deployment_id)
        where = f"{application}/{group}"
        if (target.get("applicationName"), target.get("deploymentGroupName")) != (application, group):
            other = f"{target.get('applicationName')}/{target.get('deploymentGroupName')}"
            raise Infeasible(f"deployment {deployment_id} belongs to {other}, not {where}")
        if target.get("status") != "Succeeded":
            raise Infeasible(
                f"deployment {deployment_id} is {target.get('status')}, not Succeeded: not a known good revision"
            )
        revision = target.get("revision")
        label = revision_label(revision)
        if not isinstance(revision, dict) or label is None:
            raise Infeasible(f"deployment {deployment_id} reports no revision to redeploy")
        recent = self._recent(application, group, group_info)
        running = [d for d in recent if d.get("status") not in ENDED_BADLY]
        current = max(running, key=_created) if running else None
        current_label = revision_label(current.get("revision")) if current else None
        before = {"revision": current_label}
        after = {"revision": label}
        current_id = current.get("deploymentId") if current else None
        if current_label == label:
            summary = f"{where} already runs {label} (deployment {current_id}): nothing to change"
        else:
            replaced = f"{current_label} (deployment {current_id})" if current else "an unknown revision"
            summary = f"redeploy {label} (of deployment {deployment_id}) to {where}, replacing {replaced}"
        plan = ActionPlan(feasible=True, summary=summary, before=before, after=after)
        return _Found(plan, application, group, revision, current, recent)

    def _group(self, application: str, group: str) -> dict[str, Any]:
        try:
            answer = self._client().get_deployment_group(applicationName=application, deploymentGroupName=group)
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                raise Infeasible(f"deployment group {application}/{group} not found: {exc}") from exc
            raise
        info: dict[str, Any] = answer.get("deploymentGroupInfo") or {}
        return info

    def _deployment(self, deployment_id: str) -> dict[str, Any]:
        try:
            answer = self._client().get_deployment(deploymentId=deployment_id)
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                raise Infeasible(f"deployment {deployment_id!r} not found") from exc
            raise
        info: dict[str, Any] = answer.get("deploymentInfo") or {}
        return info

    def _recent(self, application: str, group: str, group_info: dict[str, Any]) -> list[dict[str, Any]]:
        """The group's deployments created in the lookback window, plus the ones the group info names."""
        ids: list[str] = []
        for key in ("lastAttemptedDeployment", "lastSuccessfulDeployment"):
            named = (group_info.get(key) or {}).get("deploymentId")
            if named:
                ids.append(str(named))
        start = self._now() - self._lookback
        request: dict[str, Any] = {
            "applicationName": application,
            "deploymentGroupName": group,
            "createTimeRange": {"start": start},
        }
        while len(ids) < MAX_SCANNED:
            page = self._client().list_deployments(**request)
            ids.extend(str(d) for d in page.get("deployments") or [])
            token = page.get("nextToken")
            if not token:
                break
            request["nextToken"] = token
        return list(self._batch_get(list(dict.fromkeys(ids))[:MAX_SCANNED]))

    def _batch_get(self, ids: list[str]) -> Iterable[dict[str, Any]]:
        for offset in range(0, len(ids), _BATCH):
            answer = self._client().batch_get_deployments(deploymentIds=ids[offset : offset + _BATCH])
            yield from answer.get("deploymentsInfo") or []
