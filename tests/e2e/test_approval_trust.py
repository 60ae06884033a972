"""Approvals under attack, end to end: `oncall-agent serve` (its own process) against the sandbox. Only the
service's owning team decides (API 403, CLI non-zero, with the reason), the tickets name that team, and a
decision on a decided action answers 409 and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.world import SandboxWorld
from tests.e2e.harness import (
    APPROVER,
    CLI_APPROVER,
    LEGACY_TOKEN,
    OUTSIDER,
    OUTSIDER_TOKEN,
    Agent,
    wait_for,
)
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


def test_only_the_owning_team_decides_once_and_the_tickets_name_it(world: SandboxWorld, tmp_path: Path) -> None:
    agent = Agent(world, tmp_path).start()
    incident_id = agent.fire()
    rollback = rollback_of(awaiting(agent, incident_id))
    records, issues = tickets_for(world, incident_id)
    assert "approvers: storefront" in issues[0].body and "approvers: oncall" not in issues[0].body
    assert "(group storefront)" in records[0]["description"]

    approve = f"/actions/{rollback['id']}/approve"
    for token in (OUTSIDER_TOKEN, LEGACY_TOKEN):
        refused = agent.api(
            "POST", approve, json={"digest": rollback["digest"]}, headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 403, refused.text
        assert "not in group storefront" in refused.json()["detail"]
    by_cli = agent.cli_run("approve", rollback["id"], "--as", OUTSIDER)
    assert by_cli.returncode != 0 and f"{OUTSIDER} is not in group storefront" in by_cli.stderr
    assert rollback_of(agent.incident(incident_id))["status"] == "proposed"

    assert agent.api("POST", approve, json={"digest": rollback["digest"]}).status_code == 200
    replayed = agent.api("POST", approve, json={"digest": rollback["digest"]})
    assert replayed.status_code == 409 and f"already approved by {APPROVER}" in replayed.json()["detail"]
    late_reject = agent.cli_run("reject", rollback["id"], "--as", CLI_APPROVER)
    assert late_reject.returncode != 0 and f"by {APPROVER}: nothing was changed" in late_reject.stderr

    view = agent.wait_status(incident_id, "resolved")
    decisions = [e["message"] for e in view["timeline"] if e["kind"] == "decision"]
    assert len(decisions) == 1 and f"approved by {APPROVER} via api" in decisions[0]
    wait_for(lambda: tickets_for(world, incident_id)[1][0].state == "closed", "the GitHub issue closed")
    records, _issues = tickets_for(world, incident_id)
    notes = world.servicenow.work_notes_history("incident", records[0]["sys_id"])
    assert sum(f"approved by {APPROVER} via api" in note for note in notes) == 1
    assert agent.stop() == 0


def test_the_reaper_job_expires_an_undecided_proposal_and_escalates(world: SandboxWorld, tmp_path: Path) -> None:
    """Nobody decides: within the TTL plus one reaper interval the daemon expires the rollback by itself (no late
    approval triggers it), escalates the incident and tells the tickets why; the rollback never runs."""
    agent = Agent(world, tmp_path, action_ttl_minutes=1).start()
    incident_id = agent.fire()
    rollback = rollback_of(awaiting(agent, incident_id))
    view = agent.wait_status(incident_id, "escalated", timeout=60 + 30 + 30)
    assert rollback_of(view)["status"] == "expired"
    assert [e for e in view["timeline"] if e["kind"] == "decision"] == []
    assert any(e["kind"] == "expired" and rollback["id"] in e["message"] for e in view["timeline"])

    def told() -> list[str]:
        records, _issues = tickets_for(world, incident_id)
        notes = world.servicenow.work_notes_history("incident", records[0]["sys_id"])
        return [n for n in notes if "No decision in time" in n and "group storefront" in n]

    assert len(wait_for(told, "the ServiceNow work note saying why")) == 1
    wait_for(
        lambda: any("status:escalated" in (i.labels or []) for i in tickets_for(world, incident_id)[1]),
        "the GitHub issue labelled escalated",
    )
    assert running_task_definition(world) == "checkout:118"
    late = agent.api("POST", f"/actions/{rollback['id']}/approve", json={"digest": rollback["digest"]})
    assert late.status_code == 409 and "already expired" in late.json()["detail"]
    assert agent.stop() == 0
