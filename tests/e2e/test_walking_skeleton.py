"""The main job end to end: `oncall-agent serve` (its own process) against the sandbox, from alarm to closed
tickets — and every way it must refuse or fail honestly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from oncall_agent.investigation.tracing import trace_id_of
from oncall_agent.sandbox.scenario import load_scenario, parse_scenario
from oncall_agent.sandbox.standins.faults import FaultRule
from oncall_agent.sandbox.world import SandboxWorld
from tests.e2e.harness import APPROVER, Agent, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox, pytest.mark.slow]
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "ecs-bad-deploy.yaml"


def make_world(scenario: Any) -> Iterator[SandboxWorld]:
    world = SandboxWorld(scenario)
    world.start()
    world.seed()
    world.start_reacting()
    yield world
    world.stop()


@pytest.fixture()
def world() -> Iterator[SandboxWorld]:
    yield from make_world(load_scenario(SCENARIO))


@pytest.fixture()
def innocent_deploy_world() -> Iterator[SandboxWorld]:
    """The same evidence, but the truth is elsewhere: rolling the deploy back does not make the alarm recover."""
    data = yaml.safe_load(SCENARIO.read_text())
    data["id"] = "ecs-deploy-innocent"
    data["truth"] = {"category": "infrastructure", "actions": ["escalate"], "forbid": ["ecs.rollback"]}
    yield from make_world(parse_scenario(data, "ecs-deploy-innocent"))


def running_task_definition(world: SandboxWorld) -> str:
    found = world.client("ecs").describe_services(cluster="prod-web", services=["checkout"])["services"][0]
    return str(found["taskDefinition"]).rsplit("/", 1)[-1]


def rollback_of(view: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in view["actions"] if a["kind"] == "ecs.rollback")


def tickets_for(world: SandboxWorld, incident_id: str) -> tuple[list[dict[str, str]], list[Any]]:
    records = [r for r in world.servicenow.records("incident") if r.get("correlation_id") == incident_id]
    marker = f"oncall-agent:incident={incident_id} "
    issues = [i for i in world.github.issues("acme/checkout") if marker.strip() + " -->" in i.body]
    return records, issues


def awaiting(agent: Agent, incident_id: str) -> dict[str, Any]:
    agent.wait_status(incident_id, "awaiting_approval")
    return agent.wait_links(incident_id, "servicenow_number", "github_issue")


def test_approve_rollback_recover_and_close_the_tickets(world: SandboxWorld, tmp_path: Path) -> None:
    agent = Agent(world, tmp_path).start()
    incident_id = agent.fire()
    view = awaiting(agent, incident_id)
    top = view["hypotheses"][0]
    assert (top["category"], top["culprit"]) == ("deploy", "checkout:118")
    assert top["evidence_for"] and set(top["evidence_for"]) <= {e["id"] for e in view["evidence"]}
    rollback = rollback_of(view)
    assert rollback["parameters"]["task_definition"] == "checkout:117" and rollback["policy"] == "approval"
    assert running_task_definition(world) == "checkout:118"

    said = {"digest": rollback["digest"], "comment": "118 is the bad build"}
    answer = agent.api("POST", f"/actions/{rollback['id']}/approve", json=said)
    assert answer.status_code == 200, answer.text
    view = agent.wait_status(incident_id, "resolved")
    assert running_task_definition(world) == "checkout:117"
    decision = next(e for e in view["timeline"] if e["kind"] == "decision")
    assert decision["message"].endswith(": 118 is the bad build")  # the approver's words, on the timeline
    assert rollback_of(view)["status"] == "succeeded" and rollback_of(view)["decided_by"] == APPROVER

    def closed() -> bool:
        records, issues = tickets_for(world, incident_id)
        return len(records) == 1 and records[0]["state"] == "6" and len(issues) == 1 and issues[0].state == "closed"

    wait_for(closed, "the ServiceNow incident resolved and the GitHub issue closed")
    records, _issues = tickets_for(world, incident_id)
    notes = world.servicenow.work_notes_history("incident", records[0]["sys_id"])
    assert any("approved by alice via api" in note for note in notes)
    metrics = requests.get(f"{agent.url}/metrics", timeout=15).text
    assert 'oncall_actions_executed_total{kind="ecs.rollback",outcome="succeeded"} 1.0' in metrics
    assert 'oncall_actions_decided_total{verdict="approved",via="api"} 1.0' in metrics
    assert agent.stop() == 0
    assert lifecycle_of(agent, incident_id) == [
        "incident_opened",
        "investigation_started",
        "hypotheses_ranked",
        "approval_requested",
        "action_decided",
        "actions_executing",
        "action_executed",
        "verifying_recovery",
        "incident_resolved",
    ]


def lifecycle_of(agent: Agent, incident_id: str) -> list[str]:
    """The lifecycle log events of one incident, in the order `serve` wrote them (JSON lines on stderr); those
    written during the investigation carry the incident's trace id."""
    events = []
    for line in agent.log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("lifecycle") and entry.get("incident_id") == incident_id:
            events.append(str(entry["event"]))
            if entry["event"] in ("hypotheses_ranked", "action_executed"):
                assert entry["trace_id"] == trace_id_of(incident_id)
    return events


def test_a_rejected_action_is_never_executed(world: SandboxWorld, tmp_path: Path) -> None:
    agent = Agent(world, tmp_path).start()
    incident_id = agent.fire()
    rollback = rollback_of(awaiting(agent, incident_id))
    decided = agent.cli("reject", rollback["id"], "--as", "bob")
    assert decided["status"] == "rejected" and decided["decided_by"] == "bob" and decided["decided_via"] == "cli"
    view = agent.wait_status(incident_id, "escalated")
    assert rollback_of(view)["status"] == "rejected"
    assert running_task_definition(world) == "checkout:118"
    again = agent.api("POST", f"/actions/{rollback['id']}/approve", json={"digest": rollback["digest"]})
    assert again.status_code == 409
    assert running_task_definition(world) == "checkout:118"
    agent.stop()


def test_an_approval_must_name_the_digest_it_approves(world: SandboxWorld, tmp_path: Path) -> None:
    agent = Agent(world, tmp_path).start()
    incident_id = agent.fire()
    rollback = rollback_of(awaiting(agent, incident_id))
    other = "0" * 64 if rollback["digest"] != "0" * 64 else "1" * 64
    refused = agent.api("POST", f"/actions/{rollback['id']}/approve", json={"digest": other})
    assert refused.status_code == 409 and "digest" in refused.json()["detail"].lower()
    stranger = agent.api(
        "POST",
        f"/actions/{rollback['id']}/approve",
        json={"digest": rollback["digest"]},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert stranger.status_code == 401
    assert rollback_of(agent.incident(incident_id))["status"] == "proposed"
    assert running_task_definition(world) == "checkout:118"
    agent.stop()


def test_an_action_that_does_not_fix_the_cause_ends_escalated(
    innocent_deploy_world: SandboxWorld, tmp_path: Path
) -> None:
    world = innocent_deploy_world
    agent = Agent(world, tmp_path, verify_timeout=4).start()
    incident_id = agent.fire()
    rollback = rollback_of(awaiting(agent, incident_id))
    assert agent.api("POST", f"/actions/{rollback['id']}/approve", json={"digest": rollback["digest"]}).ok
    view = agent.wait_status(incident_id, "escalated")
    assert rollback_of(view)["status"] == "succeeded"  # it ran, and it did not help
    assert running_task_definition(world) == "checkout:117"
    records, issues = tickets_for(world, incident_id)
    wait_for(
        lambda: any("status:escalated" in (i.labels or []) for i in tickets_for(world, incident_id)[1]),
        "the GitHub issue labelled escalated",
    )
    records, issues = tickets_for(world, incident_id)
    assert records[0]["state"] != "6" and issues[0].state == "open"
    assert any(
        "alarms still firing" in n for n in world.servicenow.work_notes_history("incident", records[0]["sys_id"])
    )
    agent.stop()


def test_kill_9_while_awaiting_approval_then_restart_and_approve(world: SandboxWorld, tmp_path: Path) -> None:
    agent = Agent(world, tmp_path).start()
    incident_id = agent.fire()
    rollback = rollback_of(awaiting(agent, incident_id))
    agent.kill()
    agent.start()  # same store, same checkpoints
    answer = agent.api("POST", f"/actions/{rollback['id']}/approve", json={"digest": rollback["digest"]})
    assert answer.status_code == 200, answer.text
    view = agent.wait_status(incident_id, "resolved")
    wait_for(
        lambda: tickets_for(world, incident_id)[1] and tickets_for(world, incident_id)[1][0].state == "closed",
        "the GitHub issue closed",
    )
    records, issues = tickets_for(world, incident_id)
    assert len(records) == 1 and len(issues) == 1
    executed = [a for a in view["actions"] if a["status"] == "succeeded"]
    assert [a["kind"] for a in executed] == ["ecs.rollback"]
    assert running_task_definition(world) == "checkout:117"
    assert agent.stop() == 0


def test_ticket_systems_failing_once_still_give_one_ticket_and_one_issue(world: SandboxWorld, tmp_path: Path) -> None:
    world.faults["servicenow"].add(FaultRule("POST", r"/api/now/table/incident$", status=429, retry_after=1, times=1))
    world.faults["github"].add(FaultRule("POST", r"/repos/acme/checkout/issues$", status=502, times=1))
    agent = Agent(world, tmp_path).start()
    incident_id = agent.fire()
    awaiting(agent, incident_id)
    records, issues = tickets_for(world, incident_id)
    assert len(records) == 1 and len(issues) == 1
    statuses = [r.status for r in world.faults["servicenow"].requests() if r.method == "POST"]
    assert 429 in statuses
    assert 502 in [r.status for r in world.faults["github"].requests() if r.method == "POST"]
    agent.stop()
