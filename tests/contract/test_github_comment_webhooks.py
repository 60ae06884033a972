"""Comment approvals' GitHub side against the stand-in: the live permission check (GitHubTracker.permission) and
the stand-in's signed `issue_comment` webhook, received by a real HTTP server and checked with the agent's own
signature verifier."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from oncall_agent.adapters.github import GitHubTracker
from oncall_agent.domain.errors import SignatureError
from oncall_agent.intake.github_signature import verify_github_signature
from oncall_agent.sandbox.standins import BackgroundServer, FaultInjector, GitHubState, create_github_app
from oncall_agent.sandbox.standins.github_webhooks import WebhookSender

pytestmark = pytest.mark.sandbox

TOKEN = "ghp_comment_webhooks"
REPO = "acme/checkout"
SECRET = "hook-secret"


@pytest.fixture
def github() -> Iterator[tuple[GitHubState, str]]:
    state = GitHubState()
    state.add_repo(REPO)
    server = BackgroundServer(create_github_app(state, FaultInjector(), TOKEN))
    yield state, server.start()
    server.stop()


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue[tuple[dict[str, str], bytes]]]]:
    got: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> JSONResponse:
        got.put((dict(request.headers), await request.body()))
        return JSONResponse({"ok": True})

    server = BackgroundServer(app)
    yield f"{server.start()}/hook", got
    server.stop()


def test_permission_is_read_live_from_the_collaborator_endpoint(github: tuple[GitHubState, str]) -> None:
    state, base = github
    tracker = GitHubTracker(base, TOKEN, write_interval=0.0)
    state.add_collaborator(REPO, "octocat", "write")
    state.add_collaborator(REPO, "maintainer", "maintain")
    state.add_collaborator(REPO, "triager", "triage")
    assert tracker.permission(REPO, "octocat") == "write"
    assert tracker.permission(REPO, "maintainer") == "write"  # the legacy field folds maintain into write
    assert tracker.permission(REPO, "triager") == "read"
    assert tracker.permission(REPO, "stranger") == "none"
    state.add_collaborator(REPO, "octocat", "read")  # revoked: the next check sees it, nothing is cached
    assert tracker.permission(REPO, "octocat") == "read"
    assert tracker.login() == state.viewer


def test_team_membership_is_read_live_from_the_team_memberships_endpoint(github: tuple[GitHubState, str]) -> None:
    state, base = github
    tracker = GitHubTracker(base, TOKEN, write_interval=0.0)
    state.add_team("acme", "storefront-oncall", members=["octocat"], pending=["newbie"])
    answer = requests.get(
        f"{base}/orgs/acme/teams/storefront-oncall/memberships/octocat",
        headers={"Authorization": f"token {TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 200 and set(answer.json()) == {"url", "role", "state"}  # GitHub's shape
    assert (answer.json()["role"], answer.json()["state"]) == ("member", "active")
    assert tracker.team_member("acme/storefront-oncall", "octocat") is True
    assert tracker.team_member("acme/storefront-oncall", "newbie") is False  # invited, not yet a member
    assert tracker.team_member("acme/storefront-oncall", "stranger") is False  # GitHub answers 404
    assert tracker.team_member("acme/no-such-team", "octocat") is False
    state.add_team("acme", "storefront-oncall", pending=["octocat"])  # membership changed: seen at once
    assert tracker.team_member("acme/storefront-oncall", "octocat") is False


def test_a_new_comment_is_delivered_as_a_signed_issue_comment_event(
    github: tuple[GitHubState, str], receiver: tuple[str, queue.Queue[tuple[dict[str, str], bytes]]]
) -> None:
    state, base = github
    url, got = receiver
    sender = WebhookSender(state, base, url, SECRET)
    number = state.create_issue(REPO, "checkout 5xx", "body <!-- oncall-agent:incident=inc-1 -->", [], []).number
    comment_id = state.add_comment(REPO, number, "/approve act-0123456789ab", "octocat")

    headers, body = got.get(timeout=10)
    verify_github_signature(SECRET, body, headers["x-hub-signature-256"])
    with pytest.raises(SignatureError):
        verify_github_signature("another-secret", body, headers["x-hub-signature-256"])
    assert headers["x-github-event"] == "issue_comment"
    assert len(headers["x-github-delivery"]) == 36
    payload: dict[str, Any] = json.loads(body)
    assert payload["action"] == "created"
    assert payload["comment"]["id"] == comment_id and payload["comment"]["user"]["login"] == "octocat"
    assert payload["comment"]["body"] == "/approve act-0123456789ab"
    assert payload["issue"]["number"] == number and "incident=inc-1" in payload["issue"]["body"]
    assert payload["repository"]["full_name"] == REPO and payload["sender"]["login"] == "octocat"
    assert payload["comment"]["url"].startswith(base)

    # A redelivery carries the same GUID and the same bytes, as GitHub's "Redeliver" does.
    first = sender.deliveries[0]
    assert sender.send(first) == 200
    again_headers, again_body = got.get(timeout=10)
    assert again_headers["x-github-delivery"] == first.guid and again_body == body


def test_comments_written_through_the_api_are_delivered_too(
    github: tuple[GitHubState, str], receiver: tuple[str, queue.Queue[tuple[dict[str, str], bytes]]]
) -> None:
    state, base = github
    url, got = receiver
    WebhookSender(state, base, url, SECRET)
    number = state.create_issue(REPO, "t", "b", [], []).number
    GitHubTracker(base, TOKEN, write_interval=0.0).comment(REPO, number, "investigating", "k1")
    _headers, body = got.get(timeout=10)
    assert json.loads(body)["comment"]["user"]["login"] == state.viewer
