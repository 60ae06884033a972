"""CommentApprovals with a real store (SQLite) and the GitHub stand-in answering the permission check: the
cases a forged or misplaced command tries, which the end-to-end test does not reach (a marker pasted into
another issue, an action of another incident, a revoked permission, a comment edited into a command)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from oncall_agent.adapters.github import GitHubTracker
from oncall_agent.domain.action import ActionStatus
from oncall_agent.response.comment_approvals import CommentApprovals
from oncall_agent.sandbox.standins import BackgroundServer, FaultInjector, GitHubState, create_github_app
from oncall_agent.store.tables import incidents
from tests.integration.approval_world import INCIDENT, ROLLBACK, World

pytestmark = pytest.mark.sandbox

REPO, ISSUE, TOKEN = "acme/checkout", 7, "ghp_comment_approvals"
MARKER = f"<!-- oncall-agent:incident={INCIDENT} -->"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[World, GitHubState, CommentApprovals]]:
    world = World(tmp_path)
    with world.engine.begin() as connection:
        links = {"github_repo": REPO, "github_issue": str(ISSUE)}
        connection.execute(sa.update(incidents).where(incidents.c.id == INCIDENT).values(links=links))
    world.actions.save_proposed([ROLLBACK])
    state = GitHubState()
    state.add_repo(REPO)
    state.add_collaborator(REPO, "octocat", "write")
    state.add_collaborator(REPO, "reader", "read")
    state.add_collaborator(REPO, "mallory", "write")
    server = BackgroundServer(create_github_app(state, FaultInjector(), TOKEN))
    tracker = GitHubTracker(server.start(), TOKEN, write_interval=0.0)
    users = {"octocat": "alice", "reader": "alice", "mallory": "carol"}
    yield (
        world,
        state,
        CommentApprovals(world.approvals, world.outbox, tracker.permission, tracker.login, users, "write"),
    )
    server.stop()
    world.close()


def event(body: str, *, login: str = "octocat", issue: int = ISSUE, action: str = "created", cid: int = 1) -> Any:
    return {
        "action": action,
        "issue": {"number": issue, "body": f"incident\n\n{MARKER}"},
        "comment": {"id": cid, "body": body, "user": {"login": login}},
        "repository": {"full_name": REPO},
    }


def test_misplaced_or_forged_commands_decide_nothing(setup: tuple[World, GitHubState, CommentApprovals]) -> None:
    world, state, comments = setup
    command = f"/approve {ROLLBACK.id}"
    assert comments.handle("issue_comment", event(command, issue=99)).outcome == "ignored"  # marker pasted elsewhere
    assert comments.handle("issue_comment", event(command, action="edited")).outcome == "ignored"
    assert comments.handle("issues", event(command)).outcome == "ignored"
    assert comments.handle("issue_comment", event(command, login=state.viewer)).outcome == "ignored"
    assert comments.handle("issue_comment", event(f"please {command}")).outcome == "ignored"  # not a command line

    other = comments.handle("issue_comment", event("/approve act-0000000000ff", cid=2))
    assert (other.status, other.outcome) == (404, "refused")
    reader = comments.handle("issue_comment", event(command, login="reader", cid=3))
    assert reader.status == 403 and "reader has read permission on acme/checkout; write is needed" in reader.detail
    outsider = comments.handle("issue_comment", event(command, login="mallory", cid=4))
    assert outsider.status == 403 and "carol is not in group storefront" in outsider.detail
    wrong_digest = comments.handle("issue_comment", event(f"{command} {'0' * 12}", cid=5))
    assert wrong_digest.status == 409
    stranger = comments.handle("issue_comment", event(command, login="stranger", cid=6))
    assert stranger.status == 403 and "not mapped to an approver" in stranger.detail
    assert world.status(ROLLBACK) is ActionStatus.PROPOSED
    answers = [row for row in world.outbox.for_incident(INCIDENT) if ":github-comment:" in row.key]
    assert [row.key.rsplit(":", 1)[1] for row in answers] == ["2", "3", "4", "5", "6"]
    assert all(row.payload["body"].startswith("@") and "not done" in row.payload["body"] for row in answers)


def test_a_revoked_permission_counts_at_once_and_a_redelivery_is_a_no_op(
    setup: tuple[World, GitHubState, CommentApprovals],
) -> None:
    world, state, comments = setup
    state.add_collaborator(REPO, "octocat", "read")
    refused = comments.handle("issue_comment", event(f"/approve {ROLLBACK.id}", cid=10))
    assert refused.status == 403 and world.status(ROLLBACK) is ActionStatus.PROPOSED
    state.add_collaborator(REPO, "octocat", "write")
    done = comments.handle("issue_comment", event(f"lgtm\n/approve {ROLLBACK.id} {ROLLBACK.digest[:12]}", cid=11))
    assert (done.status, done.outcome) == (200, "approved")
    assert world.status(ROLLBACK) is ActionStatus.APPROVED
    again = comments.handle("issue_comment", event(f"lgtm\n/approve {ROLLBACK.id} {ROLLBACK.digest[:12]}", cid=11))
    assert again.outcome == "duplicate"
    late = comments.handle("issue_comment", event(f"/reject {ROLLBACK.id}", cid=12))
    assert late.status == 409 and "already approved" in late.detail
    assert world.timeline("decision") == [
        f"ecs.rollback {ROLLBACK.id} approved by alice via github comment by octocat (digest {ROLLBACK.digest[:12]})"
    ]
