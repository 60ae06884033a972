"""GitHub comment approvals end to end: `oncall-agent serve` (its own process) against the sandbox, whose GitHub
stand-in delivers a signed `issue_comment` webhook for every new comment. A forged signature is refused; a
commenter outside the action's approver group (not mapped to one of its approvers, not an active member of the
GitHub team the group is mapped to, asked live from the stand-in) is refused and answered on the issue; a
member's `/approve` approves, the rollback runs and the incident resolves; a redelivery of that webhook changes
nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.standins.github_webhooks import Delivery, WebhookSender
from oncall_agent.sandbox.world import GITHUB_WEBHOOK_SECRET, SandboxWorld
from tests.e2e.harness import APPROVER, OUTSIDER, Agent, wait_for
from tests.e2e.test_walking_skeleton import SCENARIO, awaiting, make_world, rollback_of, tickets_for

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox, pytest.mark.slow]

REPO = "acme/checkout"
MEMBER = "octocat"  # -> alice (storefront, the service's team)
NON_MEMBER = "mallory"  # -> carol (payments): write access to the repository, but not in the action's group
UNMAPPED = "eve"  # write access, but no approver of the agent
INVITED = "newbie"  # write access, invited to the team but not yet a member
TEAM = "acme/storefront-oncall"  # approves for group storefront


@pytest.fixture()
def world() -> Iterator[SandboxWorld]:
    yield from make_world(load_scenario(SCENARIO))


def comment_agent(world: SandboxWorld, folder: Path) -> tuple[Agent, WebhookSender]:
    agent = Agent(world, folder)
    config = yaml.safe_load(agent.config.read_text())
    config["integrations"]["github"]["webhook_secret"] = GITHUB_WEBHOOK_SECRET
    config["approvals"]["github_users"] = {MEMBER: APPROVER, NON_MEMBER: OUTSIDER}
    config["approvals"]["github_teams"] = {"storefront": TEAM}
    agent.config.write_text(yaml.safe_dump(config))
    for login in (MEMBER, NON_MEMBER, UNMAPPED, INVITED):
        world.github.add_collaborator(REPO, login, "write")
    world.github.add_team(*TEAM.split("/"), pending=[INVITED])
    return agent, world.deliver_github_webhooks(f"{agent.url}/webhooks/github")


def comment(world: SandboxWorld, sender: WebhookSender, number: int, body: str, login: str) -> Delivery:
    """A person's comment on the issue; returns the webhook delivery once the agent has answered it."""
    comment_id = world.github.add_comment(REPO, number, body, login)
    delivery = next(d for d in sender.deliveries if json.loads(d.body)["comment"]["id"] == comment_id)
    wait_for(lambda: delivery.status is not None, "the webhook delivery to be answered", 30)
    return delivery


def replies_to(world: SandboxWorld, number: int, login: str) -> list[str]:
    viewer = world.github.viewer
    return [c.body for c in world.github.comments(REPO, number) if c.author == viewer and f"@{login} " in c.body]


def test_comment_approvals_through_signed_webhooks(world: SandboxWorld, tmp_path: Path) -> None:
    agent, sender = comment_agent(world, tmp_path)
    agent.start()
    incident_id = agent.fire()
    rollback = rollback_of(awaiting(agent, incident_id))
    number = tickets_for(world, incident_id)[1][0].number
    command = f"/approve {rollback['id']}"

    forged = requests.post(
        f"{agent.url}/webhooks/github",
        data=json.dumps({"action": "created"}).encode(),
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "issue_comment",
            "X-Hub-Signature-256": "sha256=" + "0" * 64,
        },
        timeout=10,
    )
    assert forged.status_code == 403 and forged.json()["error"] == "bad_signature"

    # A validly signed edit of a comment into `/approve` (the real shape, redelivered with action edited).
    edited = comment(world, sender, number, "will look", MEMBER)
    assert edited.status == 200 and json.loads(edited.answer)["status"] == "ignored"
    payload = json.loads(edited.body)
    payload["action"], payload["comment"]["body"] = "edited", command
    edit = Delivery("edit-1", "issue_comment", json.dumps(payload).encode())
    assert sender.send(edit) == 200 and json.loads(edit.answer)["status"] == "ignored", edit.answer

    not_member = f"is not an active member of GitHub team {TEAM}, which approves for group storefront"
    for login in (NON_MEMBER, UNMAPPED, INVITED):
        refused = comment(world, sender, number, command, login)
        assert refused.status == 403 and f"{login} {not_member}" in refused.answer, refused.answer
    wait_for(lambda: replies_to(world, number, NON_MEMBER), "the answer to the non-member")
    assert not_member in replies_to(world, number, NON_MEMBER)[0]
    assert rollback_of(agent.incident(incident_id))["status"] == "proposed"

    approved = comment(world, sender, number, f"Looks right.\n{command}", MEMBER)
    assert approved.status == 200 and json.loads(approved.answer)["status"] == "approved", approved.answer
    assert sender.send(approved) == 200 and json.loads(approved.answer)["status"] == "duplicate"

    view = agent.wait_status(incident_id, "resolved")
    decisions = [e["message"] for e in view["timeline"] if e["kind"] == "decision"]
    assert len(decisions) == 1 and f"approved by {APPROVER} via github comment by {MEMBER}" in decisions[0]
    assert rollback_of(view)["status"] == "succeeded"
    wait_for(lambda: replies_to(world, number, MEMBER), "the answer to the member")
    answers = replies_to(world, number, MEMBER)
    assert len(answers) == 1 and "approved ecs.rollback" in answers[0], answers
    metrics = requests.get(f"{agent.url}/metrics", timeout=5).text
    assert 'oncall_intake_rejected_total{channel="github",reason="bad_signature"} 1.0' in metrics
    assert agent.stop() == 0
