"""The GitHub stand-in, exercised only through PyGithub (the client the coordination adapter uses)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from github import Auth, BadCredentialsException, Github, GithubException, UnknownObjectException

from oncall_agent.sandbox.standins import (
    BackgroundServer,
    FaultInjector,
    FaultRule,
    GitHubState,
    create_github_app,
)

pytestmark = pytest.mark.sandbox

TOKEN = "ghp_sandbox_token"
REPO = "acme/checkout"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class World:
    state: GitHubState
    faults: FaultInjector
    base_url: str

    def client(self, token: str = TOKEN) -> Github:
        return client(self.base_url, token)


def client(base_url: str, token: str = TOKEN) -> Github:
    """As the adapter builds it, minus PyGithub's client-side write pacing (1 s per write) to keep tests fast."""
    return Github(
        base_url=base_url, auth=Auth.Token(token), retry=None, seconds_between_requests=0, seconds_between_writes=0
    )


def seed(state: GitHubState) -> None:
    """45 commits, one a minute ending 5 minutes ago; every tenth merged through a pull request."""
    for i in range(45):
        pr = 800 + i if i % 10 == 0 else None
        at = NOW - timedelta(minutes=49 - i)
        state.add_commit(REPO, f"{i:07x}" + "c" * 33, f"change {i}\n\ndetails", "dana", at, pr=pr)
    state.add_commit(REPO, "a1b2c3d", "Apply promo pricing", "dana", NOW - timedelta(minutes=20), pr=812)
    state.add_pull(REPO, 900, "Open work", None, "feedbeef", "erin")
    state.add_issue(REPO, 77, "Promo pricing NPE in staging", NOW - timedelta(days=1), ["bug"], body="NPE")
    state.add_deployment(REPO, "a1b2c3d", "production", NOW - timedelta(minutes=13), "deploy-bot")
    state.add_collaborator(REPO, "alice", "maintain")


@pytest.fixture
def world() -> Iterator[World]:
    state, faults = GitHubState(), FaultInjector()
    seed(state)
    server = BackgroundServer(create_github_app(state, faults, TOKEN), faults=faults)
    yield World(state, faults, server.start())
    server.stop()


def test_get_repo_urls_point_back_at_the_stand_in(world: World) -> None:
    repo = world.client().get_repo(REPO)

    assert repo.full_name == REPO
    assert repo.default_branch == "main"
    assert repo.url.startswith(world.base_url)
    assert repo.owner.login == "acme"


def test_commits_in_a_window_are_paged_newest_first(world: World) -> None:
    repo = world.client().get_repo(REPO)
    since, until = NOW - timedelta(minutes=45), NOW - timedelta(minutes=5)

    commits = list(repo.get_commits(since=since, until=until))

    assert len(commits) == 42  # 41 of the 45, plus a1b2c3d
    dates = [commit.commit.author.date for commit in commits]
    assert dates == sorted(dates, reverse=True)
    assert all(since <= date <= until for date in dates)
    assert commits[0].commit.message.startswith("change 44")
    assert world.faults.count("GET", r"/commits$") == 2  # 30 + 12: the Link header was followed


def test_commit_detail_and_its_pull_request(world: World) -> None:
    repo = world.client().get_repo(REPO)

    commit = repo.get_commit("a1b2c3d")
    pulls = list(commit.get_pulls())

    assert commit.sha == "a1b2c3d"
    assert commit.author.login == "dana"
    assert [pull.number for pull in pulls] == [812]
    assert pulls[0].merged and pulls[0].title == "Apply promo pricing"
    assert pulls[0].merged_at == NOW - timedelta(minutes=20)
    assert repo.get_pull(812).head.sha == "a1b2c3d"


def test_a_pull_and_its_files_as_github_shapes_them(world: World) -> None:
    world.state.add_commit(REPO, "d" * 40, "Pool (#812)", "dana", NOW - timedelta(minutes=19), 812, files=["a.py"])
    repo = world.client().get_repo(REPO)

    pull = repo.get_pull(812)
    files = list(pull.get_files())
    commit_files = repo.get_commit("d" * 40).files

    assert (pull.changed_files, pull.additions, pull.deletions, pull.commits) == (1, 1, 1, 2)
    assert [(f.filename, f.status, f.additions, f.deletions, f.changes) for f in files] == [
        ("a.py", "modified", 1, 1, 2)
    ]
    assert files[0].raw_url.startswith(world.base_url) and files[0].patch
    assert [f.filename for f in commit_files] == ["a.py"]
    assert list(repo.get_pull(900).get_files()) == []


def test_pulls_share_the_issue_number_sequence(world: World) -> None:
    repo = world.client().get_repo(REPO)

    open_pulls = [pull.number for pull in repo.get_pulls(state="open")]
    created = repo.create_issue(title="next")

    assert open_pulls == [900]
    assert created.number == 901
    assert repo.get_issue(812).pull_request is not None


def test_issue_lifecycle_with_a_hidden_marker(world: World) -> None:
    github = world.client()
    repo = github.get_repo(REPO)
    marker = "oncall-agent:incident=inc-123"

    issue = repo.create_issue(
        title="[SEV2] checkout 5xx", body=f"Investigating.\n\n<!-- {marker} -->", labels=["incident"]
    )
    found = list(github.search_issues(f'"{marker}" repo:{REPO} in:body is:issue is:open'))
    issue.create_comment("Hypothesis: checkout:42")
    issue.add_to_labels("sev:2", "status/investigating")
    issue.remove_from_labels("status/investigating")
    issue.edit(state="closed")

    assert [hit.number for hit in found] == [issue.number]
    again = repo.get_issue(issue.number)
    assert again.state == "closed" and again.closed_at is not None
    assert [label.name for label in again.labels] == ["incident", "sev:2"]
    assert [comment.body for comment in again.get_comments()] == ["Hypothesis: checkout:42"]
    assert {label.name for label in repo.get_labels()} >= {"bug", "incident", "sev:2"}
    assert [i.title for i in world.state.issues(REPO)] == ["Promo pricing NPE in staging", "[SEV2] checkout 5xx"]
    assert world.state.comments(REPO, issue.number)[0].author == "oncall-agent"


def test_search_is_exact_about_the_marker_and_state(world: World) -> None:
    github = world.client()
    repo = github.get_repo(REPO)
    repo.create_issue(title="one", body="<!-- oncall-agent:incident=inc-1 -->")
    repo.create_issue(title="ten", body="<!-- oncall-agent:incident=inc-10 -->").edit(state="closed")

    open_hits = github.search_issues(f'"oncall-agent:incident=inc-10" repo:{REPO} is:open')
    any_hits = github.search_issues(f'"oncall-agent:incident=inc-10 " repo:{REPO} in:body')
    elsewhere = github.search_issues('"oncall-agent:incident=inc-1" repo:acme/other')

    assert open_hits.totalCount == 0
    assert [hit.title for hit in any_hits] == ["ten"]
    assert elsewhere.totalCount == 0


def test_search_lag_hides_new_issues_until_indexed() -> None:
    state, faults = GitHubState(search_lag_s=30), FaultInjector()
    state.add_repo(REPO)
    with BackgroundServer(create_github_app(state, faults, TOKEN)) as server:
        github = client(server.base_url)
        github.get_repo(REPO).create_issue(title="fresh", body="marker-xyz")
        assert github.search_issues('"marker-xyz"').totalCount == 0
        assert [i.title for i in github.get_repo(REPO).get_issues(state="open")] == ["fresh"]


def test_comments_from_other_users_and_permissions(world: World) -> None:
    repo = world.client().get_repo(REPO)
    world.state.add_comment(REPO, 77, "/approve act-1", "alice")

    comments = list(repo.get_issue(77).get_comments())

    assert [(c.user.login, c.body) for c in comments] == [("alice", "/approve act-1")]
    assert repo.get_collaborator_permission("alice") == "write"  # maintain reports as write
    assert repo.get_collaborator_permission("mallory") == "none"
    assert repo.get_collaborator_permission("oncall-agent") == "admin"


def test_deployments_and_viewer(world: World) -> None:
    github = world.client()
    deployments = list(github.get_repo(REPO).get_deployments(environment="production"))

    assert [(d.sha, d.creator.login) for d in deployments] == [("a1b2c3d", "deploy-bot")]
    assert deployments[0].created_at == NOW - timedelta(minutes=13)
    assert [status.state for status in deployments[0].get_statuses()] == ["success"]
    assert github.get_user().login == "oncall-agent"


def test_wrong_token_is_bad_credentials(world: World) -> None:
    with pytest.raises(BadCredentialsException) as caught:
        world.client("ghp_wrong").get_repo(REPO)
    assert caught.value.status == 401


def test_missing_things_are_unknown_objects(world: World) -> None:
    github = world.client()
    repo = github.get_repo(REPO)

    with pytest.raises(UnknownObjectException):
        repo.get_issue(4242)
    with pytest.raises(UnknownObjectException):
        github.get_repo("acme/nope")
    with pytest.raises(GithubException) as caught:
        repo.get_commit("0123456789abcdef")
    assert caught.value.status == 422


def test_empty_repository_answers_409_for_commits(world: World) -> None:
    world.state.add_repo("acme/empty")
    with pytest.raises(GithubException) as caught:
        list(world.client().get_repo("acme/empty").get_commits())
    assert caught.value.status == 409


def test_injected_502_surfaces_once_then_the_call_passes(world: World) -> None:
    github = world.client()
    world.faults.add(FaultRule("GET", rf"^/repos/{REPO}$", status=502, times=1))

    with pytest.raises(GithubException) as caught:
        github.get_repo(REPO)
    repo = github.get_repo(REPO)

    assert caught.value.status == 502
    assert repo.full_name == REPO
    assert [r.status for r in world.faults.requests() if r.path == f"/repos/{REPO}"] == [502, 200]


def test_injected_secondary_rate_limit_is_a_rate_limit_exception(world: World) -> None:
    from github import RateLimitExceededException

    world.faults.add(FaultRule("POST", r"/issues$", status=403, retry_after=60, times=1))
    with pytest.raises(RateLimitExceededException) as caught:
        world.client().get_repo(REPO).create_issue(title="x")
    assert caught.value.headers is not None and caught.value.headers.get("retry-after") == "60"
    assert world.state.issues(REPO)[-1].title != "x"
