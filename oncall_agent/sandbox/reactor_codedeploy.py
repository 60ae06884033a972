"""The world's reaction to a CodeDeploy rollback (see reactor.py for ECS and Lambda).

A CodeDeploy culprit is a scenario deploy the truth names by its deployment id or its revision (commit). It
counts as no longer running once the group has a newer deployment of a different revision that did not fail or
stop: moto leaves every deployment it creates in `Created`, so the newer deployment existing is the change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from oncall_agent.adapters.aws.codedeploy_actions import ENDED_BADLY, revision_label
from oncall_agent.sandbox.scenario import CodeDeployDeploy, Scenario
from oncall_agent.sandbox.scenario_targets import codedeploy_revision

_BATCH = 25


def culprit_codedeploy(scenario: Scenario) -> CodeDeployDeploy | None:
    """The CodeDeploy deploy the truth blames (by deployment id or revision), if it has been deployed (at <= 0)."""
    if scenario.truth.category != "deploy" or not scenario.truth.culprit:
        return None
    names = {scenario.truth.culprit.lower(), *(a.lower() for a in scenario.truth.accept)}
    for deploy in scenario.deploys:
        if not isinstance(deploy, CodeDeployDeploy) or deploy.at.total_seconds() > 0:
            continue
        if deploy.deployment_id.lower() in names or (deploy.revision and deploy.revision.lower() in names):
            return deploy
    return None


def _group_deployments(codedeploy: Any, application: str, group: str) -> list[dict[str, Any]]:
    ids: list[str] = []
    request: dict[str, Any] = {"applicationName": application, "deploymentGroupName": group}
    while True:
        page = codedeploy.list_deployments(**request)
        ids.extend(page.get("deployments") or [])
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    found: list[dict[str, Any]] = []
    for offset in range(0, len(ids), _BATCH):
        answer = codedeploy.batch_get_deployments(deploymentIds=ids[offset : offset + _BATCH])
        found.extend(answer.get("deploymentsInfo") or [])
    return found


def _created(info: dict[str, Any]) -> datetime:
    value = info.get("createTime")
    return value if isinstance(value, datetime) else datetime.min.replace(tzinfo=UTC)


def codedeploy_culprit_is_running(scenario: Scenario, deploy: CodeDeployDeploy, client: Any) -> bool:
    """False once the group has a newer, not failed or stopped deployment of another revision than the culprit's.

    The culprit deployment is found by the scenario's id (moto_backdate renames moto's id in process) or, when
    moto kept its own id, as the newest deployment of the culprit's revision. Not found: still running (the
    world does not recover from something it cannot see).
    """
    deployments = _group_deployments(client("codedeploy"), deploy.application, deploy.group)
    label = revision_label(codedeploy_revision(scenario, deploy))
    culprit = next((d for d in deployments if d.get("deploymentId") == deploy.deployment_id), None)
    if culprit is None:
        same = [d for d in deployments if revision_label(d.get("revision")) == label]
        culprit = max(same, key=_created) if same else None
    if culprit is None:
        return True
    since = _created(culprit)
    return not any(
        _created(d) > since and d.get("status") not in ENDED_BADLY and revision_label(d.get("revision")) != label
        for d in deployments
    )
