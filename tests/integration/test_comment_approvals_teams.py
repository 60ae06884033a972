"""Comment approvals by GitHub team: the action's approver group mapped to a team (`approvals.github_teams`)
whose membership the stand-in answers live. An active member decides (mapped to an approver or not); a pending
invitee, a non-member and a member without write permission are refused with the reason; the settings mapping
still decides without asking GitHub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from oncall_agent.adapters.github import GitHubTracker
from oncall_agent.domain.action import ActionStatus
from oncall_agent.response.comment_approvals import CommentApprovals
from oncall_agent.sandbox.standins import BackgroundServer, FaultInjector, GitHubState, create_github_app
from oncall_agent.sandbox.standins.faults import FaultRule
from oncall_agent.store.tables import incidents
from tests.integration.approval_world import INCIDENT, ROLLBACK, World
from tests.integration.test_comment_approvals import ISSUE, REPO, TOKEN, event

pytestmark = pytest.mark.sandbox

TEAM = "acme/storefront-oncall"  # approves for group storefront, the rollback's group


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[World, GitHubState, FaultInjector, CommentApprovals]]:
    world = World(tmp_path)
    with world.engine.begin() as connection:
        links = {"github_repo": REPO, "github_issue": str(ISSUE)}
        connection.execute(sa.update(incidents).where(incidents.c.id == INCIDENT).values(links=links))
    world.actions.save_proposed([ROLLBACK])
    state, faults = GitHubState(), FaultInjector()
    state.add_repo(REPO)
    for login in ("hubot", "newbie", "mallory", "octocat"):
        state.add_collaborator(REPO, login, "write")
    state.add_collaborator(REPO, "reader", "read")
    state.add_team("acme", "storefront-oncall", members=["hubot", "reader"], pending=["newbie"])
    server = BackgroundServer(create_github_app(state, faults, TOKEN), faults=faults)
    tracker = GitHubTracker(server.start(), TOKEN, write_interval=0.0, retry_5xx=0)
    users = {"octocat": "alice", "mallory": "carol"}
    comments = CommentApprovals(
        world.approvals,
        world.outbox,
        tracker.permission,
        tracker.login,
        users,
        "write",
        {"storefront": TEAM},
        tracker.team_member,
    )
    yield world, state, faults, comments
    server.stop()
    world.close()


def test_only_active_team_members_with_write_permission_decide(
    setup: tuple[World, GitHubState, FaultInjector, CommentApprovals],
) -> None:
    world, _state, _faults, comments = setup
    command = f"/approve {ROLLBACK.id}"
    outsider = comments.handle("issue_comment", event(command, login="mallory", cid=1))
    assert outsider.status == 403
    assert f"mallory is not an active member of GitHub team {TEAM}, which approves for group storefront" in (
        outsider.detail
    )
    invited = comments.handle("issue_comment", event(command, login="newbie", cid=2))
    assert invited.status == 403 and "newbie is not an active member" in invited.detail
    reader = comments.handle("issue_comment", event(command, login="reader", cid=3))
    assert reader.status == 403 and "reader has read permission on acme/checkout" in reader.detail
    assert world.status(ROLLBACK) is ActionStatus.PROPOSED
    answers = {row.key.rsplit(":", 1)[1]: row.payload["body"] for row in world.outbox.for_incident(INCIDENT)}
    assert answers["1"].startswith("@mallory not done: mallory is not an active member of GitHub team")

    member = comments.handle("issue_comment", event(command, login="hubot", cid=4))
    assert (member.status, member.outcome) == (200, "approved")
    assert world.status(ROLLBACK) is ActionStatus.APPROVED
    assert world.timeline("decision") == [
        f"ecs.rollback {ROLLBACK.id} approved by github:hubot via github comment by hubot (team {TEAM}) "
        f"(digest {ROLLBACK.digest[:12]})"
    ]


def test_the_settings_mapping_decides_without_asking_github_and_an_unanswered_check_decides_nothing(
    setup: tuple[World, GitHubState, FaultInjector, CommentApprovals],
) -> None:
    world, _state, faults, comments = setup
    faults.add(FaultRule("GET", r"/memberships/", status=500, times=5))
    unknown = comments.handle("issue_comment", event(f"/approve {ROLLBACK.id}", login="hubot", cid=1))
    assert unknown.status == 503 and "could not check hubot's membership of acme/storefront-oncall" in unknown.detail
    mapped = comments.handle("issue_comment", event(f"/approve {ROLLBACK.id}", login="octocat", cid=2))
    assert (mapped.status, mapped.outcome) == (200, "approved")  # alice is in storefront by settings
    assert world.status(ROLLBACK) is ActionStatus.APPROVED
