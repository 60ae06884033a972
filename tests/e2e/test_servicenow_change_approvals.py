"""ServiceNow change approval end to end: `oncall-agent serve` (its own process) against the sandbox, with the
ECS rollback marked `risk: high, change: required` in a copy of the shipped runbooks. The agent opens a normal
change linked to the incident; a person (their own ServiceNow account) approves it and the rollback runs, or
rejects it and the rollback never runs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from oncall_agent.response.runbooks import shipped_runbooks_dir
from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.world import SERVICENOW_APPROVER, SERVICENOW_APPROVER_PASSWORD, SandboxWorld
from tests.e2e.harness import APPROVER, Agent, wait_for
from tests.e2e.test_walking_skeleton import (
    SCENARIO,
    awaiting,
    make_world,
    rollback_of,
    running_task_definition,
    tickets_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture()
def world() -> Iterator[SandboxWorld]:
    yield from make_world(load_scenario(SCENARIO))


def change_agent(world: SandboxWorld, folder: Path) -> Agent:
    runbooks = folder / "runbooks"
    shutil.copytree(shipped_runbooks_dir(), runbooks)
    path = runbooks / "ecs-bad-deploy.md"
    text = path.read_text()
    assert "    risk: medium\n" in text
    path.write_text(text.replace("    risk: medium\n", "    risk: high\n    change: required\n", 1))
    agent = Agent(world, folder)
    config = yaml.safe_load(agent.config.read_text())
    config["investigation"]["runbooks_dir"] = str(runbooks)
    config["approvals"]["servicenow_users"] = {SERVICENOW_APPROVER: APPROVER}
    config["approvals"]["change_poll_seconds"] = 0.5
    agent.config.write_text(yaml.safe_dump(config))
    return agent.start()


def the_change(world: SandboxWorld, agent: Agent, incident_id: str, action_id: str) -> dict[str, Any]:
    sys_id = agent.wait_links(incident_id, f"change:{action_id}:sys_id")["links"][f"change:{action_id}:sys_id"]
    change = world.servicenow.get("change_request", sys_id)
    assert change is not None
    return change


def decide_in_servicenow(world: SandboxWorld, sys_id: str, fields: dict[str, str]) -> None:
    assert world.endpoints is not None
    answer = requests.patch(
        f"{world.endpoints.servicenow}/api/now/table/change_request/{sys_id}",
        json=fields,
        auth=(SERVICENOW_APPROVER, SERVICENOW_APPROVER_PASSWORD),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def test_an_approved_change_approves_the_action_and_it_runs(world: SandboxWorld, tmp_path: Path) -> None:
    agent = change_agent(world, tmp_path)
    incident_id = agent.fire()
    rollback = rollback_of(awaiting(agent, incident_id))
    assert rollback["risk"] == "high"
    change = the_change(world, agent, incident_id, rollback["id"])
    records, _issues = tickets_for(world, incident_id)
    assert change["type"] == "normal" and change["parent"] == records[0]["sys_id"]
    assert rollback["digest"] in change["description"] and change["correlation_id"] == f"{incident_id}:{rollback['id']}"
    assert rollback_of(agent.incident(incident_id))["status"] == "proposed"  # requested: nothing decided yet
    # The change is the only way to approve it: the API and the CLI refuse, naming it.
    by_api = agent.api("POST", f"/actions/{rollback['id']}/approve", json={"digest": rollback["digest"]})
    assert by_api.status_code == 403 and "only through its ServiceNow change request" in by_api.json()["detail"]
    by_cli = agent.cli_run("approve", rollback["id"], "--as", APPROVER)
    assert by_cli.returncode != 0 and "only through its ServiceNow change request" in by_cli.stderr

    decide_in_servicenow(world, change["sys_id"], {"approval": "approved"})
    view = agent.wait_status(incident_id, "resolved")
    assert rollback_of(view)["status"] == "succeeded"
    decisions = [e["message"] for e in view["timeline"] if e["kind"] == "decision"]
    assert len(decisions) == 1, decisions
    assert f"approved by {APPROVER} via ServiceNow change {change['number']}" in decisions[0]
    assert f"approved by {SERVICENOW_APPROVER}" in decisions[0]
    changes = [
        c for c in world.servicenow.records("change_request") if c.get("correlation_id", "").startswith(incident_id)
    ]
    assert len(changes) == 1
    assert agent.stop() == 0


def test_a_rejected_change_rejects_the_action_and_it_never_runs(world: SandboxWorld, tmp_path: Path) -> None:
    agent = change_agent(world, tmp_path)
    incident_id = agent.fire()
    rollback = rollback_of(awaiting(agent, incident_id))
    change = the_change(world, agent, incident_id, rollback["id"])
    decide_in_servicenow(world, change["sys_id"], {"approval": "rejected"})
    view = agent.wait_status(incident_id, "escalated")
    assert rollback_of(view)["status"] == "rejected"
    assert rollback_of(view)["decided_by"] == APPROVER
    assert running_task_definition(world) == "checkout:118"
    wait_for(
        lambda: any(
            f"rejected by {SERVICENOW_APPROVER}" in note
            for note in world.servicenow.work_notes_history("incident", tickets_for(world, incident_id)[0][0]["sys_id"])
        ),
        "the rejection noted on the incident",
    )
    assert agent.stop() == 0
