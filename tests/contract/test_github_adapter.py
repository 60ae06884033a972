"""GitHubTracker against the GitHub stand-in: commits in a window, issue search, one issue per marker (search lag,
502s before and after the write, secondary rate limits), comments once per key, labels and close."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from starlette.types import ASGIApp

from oncall_agent.adapters.github import GitHubTracker, IssueError
from oncall_agent.adapters.github_records import comment_marker
from oncall_agent.domain.records import DeployKind
from oncall_agent.sandbox.standins import (
    BackgroundServer,
    FaultInjector,
    FaultRule,
    GitHubState,
    create_github_app,
)
from tests.contract.commit_then_fail import CommitThenFail

pytestmark = pytest.mark.sandbox

TOKEN = "ghp_adapter_test"
REPO = "o/r"
ISSUES = rf"^/repos/{REPO}/issues$"
MARKER = "<!-- oncall-agent:incident=inc-1 -->"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class World:
    state: GitHubState
    faults: FaultInjector
    base_url: str
    sleeps: list[float] = field(default_factory=list)

    def tracker(self, **overrides: object) -> GitHubTracker:
        options: dict[str, object] = {"write_interval": 0.0, "backoff_base": 0.001, "sleep": self.sleeps.append}
        options.update(overrides)
        return GitHubTracker(self.base_url, TOKEN, **options)  # type: ignore[arg-type]

    def statuses(self, method: str, path_regex: str) -> list[int | None]:
        return [r.status for r in self.faults.requests() if r.method == method and re.search(path_regex, r.path)]


def serve(state: GitHubState | None = None, *, commit_then_fail: tuple[str, str] | None = None) -> Iterator[World]:
    state, faults = state or GitHubState(), FaultInjector()
    state.add_repo(REPO)
    app: ASGIApp = create_github_app(state, faults, TOKEN)
    if commit_then_fail is not None:
        app = CommitThenFail(app, *commit_then_fail)
    server = BackgroundServer(app, faults=faults)
    yield World(state, faults, server.start())
    server.stop()


@pytest.fixture
def world() -> Iterator[World]:
    yield from serve()


def test_commits_in_a_window_with_their_pull_requests(world: World) -> None:
    sha = "a1b2c3d4" * 5
    world.state.add_commit(REPO, "0" * 40, "too old", "dana", NOW - timedelta(hours=3))
    world.state.add_commit(
        REPO, sha, "Apply promo pricing (#12)\n\nlong text", "dana", NOW - timedelta(minutes=20), pr=12
    )
    world.state.add_commit(REPO, "b" * 40, "Bump deps", "erin", NOW - timedelta(minutes=10))
    world.state.add_commit(REPO, "c" * 40, "in the future", "erin", NOW + timedelta(hours=1))

    found = world.tracker().commits(REPO, NOW - timedelta(hours=1), NOW)

    assert [record.identifier for record in found] == ["b" * 40, sha]
    promo = found[1]
    assert (promo.kind, promo.target, promo.actor) == (DeployKind.GITHUB_COMMIT, REPO, "dana")
    assert promo.at == NOW - timedelta(minutes=20)
    assert promo.details == {"message": "Apply promo pricing (#12)", "short_sha": sha[:7], "pull_requests": [12]}
    assert promo.link == f"{world.base_url}/{REPO}/commit/{sha}"
    assert found[0].details["pull_requests"] == []


def test_commits_beyond_the_pull_lookup_budget_use_the_message_only(world: World) -> None:
    for i in range(3):
        world.state.add_commit(REPO, f"{i}" * 40, f"change {i} (#{50 + i})", "dana", NOW - timedelta(minutes=i + 1))

    found = world.tracker(pull_lookups=1).commits(REPO, NOW - timedelta(hours=1), NOW)

    assert [record.details["pull_requests"] for record in found] == [[50], [51], [52]]
    assert len(world.statuses("GET", r"/commits/.+/pulls$")) == 1


def test_an_empty_repository_has_no_commits(world: World) -> None:
    assert world.tracker().commits(REPO, NOW - timedelta(hours=1), NOW) == []


def test_deployments_in_a_window(world: World) -> None:
    world.state.add_repo(REPO)
    world.state.add_deployment(REPO, "d" * 40, "production", NOW - timedelta(minutes=15), "deploy-bot")
    world.state.add_deployment(REPO, "e" * 40, "production", NOW - timedelta(hours=5), "deploy-bot")

    found = world.tracker().deployments(REPO, NOW - timedelta(hours=1), NOW)

    assert [(d.kind, d.identifier, d.actor) for d in found] == [(DeployKind.GITHUB_DEPLOYMENT, "d" * 40, "deploy-bot")]
    assert found[0].details["environment"] == "production" and found[0].at == NOW - timedelta(minutes=15)


def test_search_issues_returns_issues_not_pulls(world: World) -> None:
    world.state.add_issue(REPO, 7, "Promo pricing NPE", NOW - timedelta(days=1), ["bug"], body="NullPointer in promo")
    world.state.add_issue(REPO, 8, "Unrelated", NOW - timedelta(days=1), [], body="nothing")
    world.state.add_pull(REPO, 9, "promo pricing fix", None, "f" * 40, "dana")

    found = world.tracker().search_issues(REPO, "promo pricing")

    assert [(r.number, r.kind, r.system, r.ci, r.labels) for r in found] == [("7", "issue", "github", REPO, ["bug"])]
    assert found[0].title == "Promo pricing NPE" and found[0].state == "open"
    assert found[0].opened == NOW - timedelta(days=1)


def test_recent_issues_are_issues_updated_since_newest_first_and_bounded(world: World) -> None:
    world.state.add_issue(REPO, 7, "Promo pricing NPE", NOW - timedelta(days=2), ["bug"], body="NullPointer")
    world.state.add_issue(REPO, 8, "Rounding on promo carts", NOW - timedelta(days=1), [], body="ArithmeticException")
    world.state.add_issue(REPO, 6, "Old flaky test", NOW - timedelta(days=200), [], body="")
    world.state.add_pull(REPO, 9, "promo pricing fix", None, "f" * 40, "dana")

    found = world.tracker().recent_issues(REPO, NOW - timedelta(days=90))
    assert [(r.number, r.kind) for r in found] == [("8", "issue"), ("7", "issue")]
    assert [r.number for r in world.tracker(search_limit=1).recent_issues(REPO, NOW - timedelta(days=90))] == ["8"]


def test_ensure_issue_twice_is_one_issue_with_the_marker(world: World) -> None:
    tracker = world.tracker()

    first = tracker.ensure_issue(REPO, MARKER, "[SEV2] checkout 5xx", "Investigating.", ["incident", "sev:2"])
    second = tracker.ensure_issue(REPO, MARKER, "[SEV2] checkout 5xx", "Investigating.", ["incident"])

    issues = world.state.issues(REPO)
    assert len(issues) == 1 and first == second
    assert (first.number, first.state) == (issues[0].number, "open")
    assert issues[0].body == f"Investigating.\n\n{MARKER}"
    assert issues[0].labels == ["incident", "sev:2"] and issues[0].author == "oncall-agent"


def test_set_body_line_replaces_the_placeholder_once_and_leaves_other_issues_alone(world: World) -> None:
    tracker = world.tracker()
    ref = tracker.ensure_issue(REPO, MARKER, "checkout 5xx", "Intro\nX: pending\nRest", [])
    tracker.set_body_line(REPO, ref.number, "X: ", "X: INC0010001")
    tracker.set_body_line(REPO, ref.number, "X: ", "X: INC0010001")
    (issue,) = world.state.issues(REPO)
    assert issue.body == f"Intro\nX: INC0010001\nRest\n\n{MARKER}"
    assert len(world.statuses("PATCH", rf"/issues/{ref.number}$")) == 1  # the second call found it done

    theirs = world.state.create_issue(REPO, "a person's issue", "X: theirs", [], [])
    theirs.author = "someone-else"
    with pytest.raises(ValueError, match="not opened by the agent"):
        tracker.set_body_line(REPO, theirs.number, "X: ", "X: INC0010001")
    assert theirs.body == "X: theirs"


def test_ensure_issue_is_one_issue_while_search_lags() -> None:
    for world in serve(GitHubState(search_lag_s=60)):
        tracker = world.tracker()

        refs = {tracker.ensure_issue(REPO, MARKER, "t", f"body {MARKER} kept", []) for _ in range(2)}

        assert len(refs) == 1 and len(world.state.issues(REPO)) == 1
        assert world.state.issues(REPO)[0].body == f"body  kept\n\n{MARKER}"


def test_ensure_issue_finds_an_old_issue_through_search(world: World) -> None:
    world.state.add_issue(REPO, 3, "old", NOW - timedelta(days=5), [], body=f"x\n{MARKER}", author="oncall-agent")

    ref = world.tracker().ensure_issue(REPO, MARKER, "t", "b", [])

    assert ref.number == 3
    assert world.statuses("POST", ISSUES) == []


def test_markers_that_are_not_ours_do_not_count(world: World) -> None:
    world.state.add_issue(REPO, 3, "pasted", NOW, [], body=f"quoting {MARKER}", author="mallory")
    world.state.add_issue(
        REPO, 4, "near miss", NOW, [], body="<!-- oncall-agent:incident=inc-10 -->", author="oncall-agent"
    )

    ref = world.tracker().ensure_issue(REPO, MARKER, "t", "alarm said: <!-- oncall-agent:incident=inc-2 -->", [])

    assert ref.number == 5
    body = world.state.issues(REPO)[-1].body
    assert body.endswith(MARKER) and "<!-- oncall-agent:incident=inc-2" not in body  # neutralized


def test_502_then_201_is_exactly_one_issue(world: World) -> None:
    world.faults.add(FaultRule("POST", ISSUES, status=502, times=1))

    ref = world.tracker().ensure_issue(REPO, MARKER, "t", "b", [])

    assert [issue.number for issue in world.state.issues(REPO)] == [ref.number]
    assert world.statuses("POST", ISSUES) == [502, 201]
    assert world.statuses("GET", ISSUES) == [200, 200]  # looked again before the second POST
    assert len(world.sleeps) == 1


def test_502_after_the_issue_was_written_is_reconciled_despite_search_lag() -> None:
    for world in serve(GitHubState(search_lag_s=60), commit_then_fail=("POST", ISSUES)):
        ref = world.tracker().ensure_issue(REPO, MARKER, "t", "b", [])

        assert [issue.number for issue in world.state.issues(REPO)] == [ref.number]
        assert world.statuses("POST", ISSUES) == [201]  # the one write; the client saw 502


def test_secondary_rate_limit_waits_retry_after(world: World) -> None:
    world.faults.add(FaultRule("POST", ISSUES, status=403, retry_after=1, times=1))

    world.tracker().ensure_issue(REPO, MARKER, "t", "b", [])

    assert world.sleeps == [1.0]
    assert len(world.state.issues(REPO)) == 1


def test_rate_limit_wait_beyond_the_bound_is_an_issue_error(world: World) -> None:
    world.faults.add(FaultRule("POST", ISSUES, status=429, retry_after=600, times=1))

    with pytest.raises(IssueError) as caught:
        world.tracker(max_rate_limit_wait=60).ensure_issue(REPO, MARKER, "t", "b", [])

    assert caught.value.status == 429 and caught.value.retry_after == 600
    assert world.sleeps == [] and world.state.issues(REPO) == []


def test_persistent_502_gives_up_after_the_retries(world: World) -> None:
    world.faults.add(FaultRule("POST", ISSUES, status=502))

    with pytest.raises(IssueError) as caught:
        world.tracker(retry_5xx=2).ensure_issue(REPO, MARKER, "t", "b", [])

    assert caught.value.status == 502 and "Server Error" in str(caught.value)
    assert world.statuses("POST", ISSUES) == [502, 502, 502]
    assert world.state.issues(REPO) == []


def test_missing_issue_is_an_issue_error_without_retry(world: World) -> None:
    with pytest.raises(IssueError) as caught:
        world.tracker().close_issue(REPO, 4242)

    assert caught.value.status == 404 and not caught.value.retryable
    assert world.sleeps == []


def test_comments_once_per_key(world: World) -> None:
    tracker = world.tracker()
    number = tracker.ensure_issue(REPO, MARKER, "t", "b", []).number
    world.state.add_comment(REPO, number, f"me too {comment_marker('update-2')}", "mallory")

    tracker.comment(REPO, number, "Hypothesis: checkout:42", key="update-1")
    tracker.comment(REPO, number, "Hypothesis: checkout:42", key="update-1")
    tracker.comment(REPO, number, "Rolled back", key="update-2")  # mallory's copy of the marker does not count

    ours = [c.body for c in world.state.comments(REPO, number) if c.author == "oncall-agent"]
    assert ours == [
        f"Hypothesis: checkout:42\n\n{comment_marker('update-1')}",
        f"Rolled back\n\n{comment_marker('update-2')}",
    ]


def test_comment_whose_answer_was_lost_is_not_posted_twice() -> None:
    for world in serve(commit_then_fail=("POST", rf"^/repos/{REPO}/issues/\d+/comments$")):
        tracker = world.tracker()
        number = tracker.ensure_issue(REPO, MARKER, "t", "b", []).number

        tracker.comment(REPO, number, "once", key="k")

        assert [c.body for c in world.state.comments(REPO, number)] == [f"once\n\n{comment_marker('k')}"]


def test_set_labels_replaces_and_close_is_idempotent(world: World) -> None:
    tracker = world.tracker()
    number = tracker.ensure_issue(REPO, MARKER, "t", "b", ["incident", "status/investigating"]).number

    tracker.set_labels(REPO, number, ["incident", "status/mitigated"])
    tracker.set_labels(REPO, number, ["incident", "status/mitigated"])
    closed = tracker.close_issue(REPO, number)
    again = tracker.close_issue(REPO, number)

    issue = world.state.issues(REPO)[0]
    assert issue.labels == ["incident", "status/mitigated"]
    assert (issue.state, issue.state_reason) == ("closed", "completed")
    assert closed == again and closed.state == "closed" and closed.link == f"{world.base_url}/{REPO}/issues/{number}"
    assert world.statuses("PATCH", rf"/issues/{number}$") == [200]


def test_bad_token_is_not_retried(world: World) -> None:
    tracker = GitHubTracker(world.base_url, "ghp_wrong", write_interval=0, sleep=world.sleeps.append)

    with pytest.raises(IssueError) as caught:
        tracker.search_issues(REPO, "x")

    assert caught.value.status == 401 and world.sleeps == []
    assert "ghp_wrong" not in str(caught.value) + repr(tracker)


def test_assign_adds_people_and_repeating_it_changes_nothing(world: World) -> None:
    tracker = world.tracker()
    number = tracker.ensure_issue(REPO, MARKER, "t", "b", ["incident"]).number

    tracker.assign(REPO, number, ["dana", "lee"])
    tracker.assign(REPO, number, ["lee"])
    tracker.assign(REPO, number, [])

    assert world.state.issues(REPO)[0].assignees == ["dana", "lee"]
    assert world.statuses("POST", rf"/issues/{number}/assignees$") == [201, 201]
