"""GitHub adapter (ports.IssueTracker) over PyGithub: commits in a window as deploy evidence, what one commit or
pull changed, issue search, and one issue per agent incident kept up to date (comments once per key, labels, close).

Idempotence comes from hidden markers: the issue body carries the caller's `<!-- oncall-agent:incident=... -->`
and each comment `<!-- oncall-agent:comment=<key> -->`. Every write is a retried unit that looks for its marker
first (reconcile-before-retry, see `github_retry`). Issue search lags behind writes by seconds to minutes, so
`ensure_issue` also scans the recent issues the token's own user opened, which has no lag. Only items written
by that user count: anyone can paste a marker into an issue or comment.

Write pacing: GitHub allows about 80 content-creating requests a minute before its secondary rate limit;
`write_interval` (seconds between writes, enforced by PyGithub) defaults to 1.0, PyGithub's own default,
which keeps one process under it. Pass 0 only against a stand-in or when another layer paces writes.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from github import Auth, Github

from oncall_agent.adapters.github_changes import read_change
from oncall_agent.adapters.github_records import (
    TITLE_MAX,
    comment_marker,
    deploy_record,
    deployment_record,
    has_marker,
    marker_search_text,
    neutralize,
    pull_numbers_in,
    ticket_record,
    with_marker,
)
from oncall_agent.adapters.github_retry import GitHubRetry, IssueError
from oncall_agent.domain.budget import CallBudgetExceeded, charge
from oncall_agent.domain.records import ChangeSummary, DeployRecord, TicketRecord
from oncall_agent.domain.text_lines import with_line
from oncall_agent.domain.time import as_utc
from oncall_agent.ports import IssueRef

__all__ = ["GitHubTracker", "IssueError"]

log = logging.getLogger(__name__)


class GitHubTracker:
    """IssueTracker over the GitHub REST API (`base_url` is `https://api.github.com` or a GHES `/api/v3` URL).

    `retry_5xx`: retries of a unit after a transient failure (5xx, network, rate limit); `backoff_base` seconds
    scale the jittered exponential backoff; rate-limit waits longer than `max_rate_limit_wait` are not waited.
    `write_interval` / `request_interval`: seconds PyGithub keeps between writes / between any requests.
    `recent_window`: how far back `ensure_issue` scans the user's own issues (covers search indexing lag).
    `pull_lookups`: at most this many commits (newest first) get a pulls-for-commit call; the others only have
    the PR numbers their message names. `search_limit` caps `search_issues` results.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        per_page: int = 100,
        write_interval: float = 1.0,
        request_interval: float = 0.0,
        retry_5xx: int = 3,
        backoff_base: float = 1.0,
        max_rate_limit_wait: float = 60.0,
        timeout: int = 15,
        recent_window: timedelta = timedelta(days=1),
        pull_lookups: int = 20,
        search_limit: int = 50,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._gh = Github(
            base_url=base_url.rstrip("/"),
            auth=MeteredToken(token),
            retry=None,  # retries are ours (GitHubRetry): they must reconcile before writing again
            timeout=timeout,
            per_page=per_page,
            seconds_between_requests=request_interval or None,
            seconds_between_writes=write_interval or None,
            lazy=True,  # no GET for objects we only write to (repo, issue by number)
        )
        self._base_url = base_url.rstrip("/")
        self._retry = GitHubRetry(retry_5xx, backoff_base=backoff_base, max_wait=max_rate_limit_wait, sleep=sleep)
        self._recent = recent_window
        self._pull_lookups = pull_lookups
        self._search_limit = search_limit
        self._login: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the token
        return f"GitHubTracker({self._base_url!r})"

    # --- reads --------------------------------------------------------------------------------------------------
    def commits(self, repo: str, start: datetime, end: datetime) -> list[DeployRecord]:
        """Commits on the default branch between start and end (newest first), with their PR numbers."""
        since, until = as_utc(start), as_utc(end)  # PyGithub formats the datetime as if it were UTC
        try:
            listed = self._retry.call(
                f"list commits of {repo}", lambda: list(self._gh.get_repo(repo).get_commits(since=since, until=until))
            )
        except IssueError as exc:
            if exc.status == 409:  # "Git Repository is empty": nothing was committed, in any window
                return []
            raise
        return [
            deploy_record(repo, commit, self._pulls_of(repo, commit, lookup=index < self._pull_lookups))
            for index, commit in enumerate(listed)
        ]

    def deployments(self, repo: str, start: datetime, end: datetime) -> list[DeployRecord]:
        """GitHub deployments of `repo` created between start and end (newest first)."""
        since, until = as_utc(start), as_utc(end)
        listed = self._retry.call(
            f"list deployments of {repo}", lambda: list(self._gh.get_repo(repo).get_deployments())
        )
        return [deployment_record(repo, d) for d in listed if since <= as_utc(d.created_at) <= until]

    def change_summary(self, repo: str, ref: str) -> ChangeSummary | None:
        """What commit `ref` (sha) or pull request `ref` (`#123`) of `repo` changed; None when it has none."""
        return read_change(self._gh, self._retry, repo, ref)

    def search_issues(self, repo: str, text: str) -> list[TicketRecord]:
        """Issues (not pulls) of `repo` whose text contains `text` as a phrase, best match first."""
        phrase = text.replace('"', " ").strip()
        query = f'repo:{repo} is:issue "{phrase}"' if phrase else f"repo:{repo} is:issue"
        hits = self._retry.call(
            f"search issues in {repo}",
            lambda: list(itertools.islice(self._gh.search_issues(query), self._search_limit)),
        )
        return [ticket_record(repo, hit) for hit in hits]

    def recent_issues(self, repo: str, since: datetime) -> list[TicketRecord]:
        """Issues (not pulls) of `repo` updated since `since`, newest first; at most `search_limit`."""
        moment = as_utc(since)

        def listed() -> list[Any]:
            found = self._gh.get_repo(repo).get_issues(state="all", since=moment, sort="updated", direction="desc")
            return list(itertools.islice((i for i in found if i.pull_request is None), self._search_limit))

        return [ticket_record(repo, issue) for issue in self._retry.call(f"list recent issues of {repo}", listed)]

    def permission(self, repo: str, login: str) -> str:
        """`login`'s permission on `repo` as GitHub reports it now: admin, write, read or none (maintain counts
        as write and triage as read in this legacy field)."""
        try:
            return str(
                self._retry.call(
                    f"permission of {login} on {repo}",
                    lambda: self._gh.get_repo(repo).get_collaborator_permission(login),
                )
            )
        except IssueError as exc:
            if exc.status == 404:  # no such user (or not visible to the token): no permission at all
                return "none"
            raise

    def team_member(self, team: str, login: str) -> bool:
        """Whether `login` is an active member of `team` (`org/team-slug`) now: GitHub answers 404 for a
        non-member (and for a team the token cannot see), and `pending` while an invitation is open."""
        org, _, slug = team.partition("/")
        if not org or not slug:
            raise ValueError(f"a GitHub team is org/team-slug, got {team!r}")
        try:
            membership = self._retry.call(
                f"membership of {login} in {team}",
                lambda: self._gh.get_organization(org).get_team_by_slug(slug).get_team_membership(login),
            )
        except IssueError as exc:
            if exc.status == 404:
                return False
            raise
        return str(membership.state) == "active"

    def login(self) -> str:
        """The login the token belongs to (the author of the agent's own comments)."""
        return self._me()

    # --- writes -------------------------------------------------------------------------------------------------
    def ensure_issue(self, repo: str, marker: str, title: str, body: str, labels: list[str]) -> IssueRef:
        """The issue of ours whose body holds `marker` (open or closed: reopening is the caller's decision),
        created with the marker as its last line when there is none."""
        if not marker.strip() or "\n" in marker:
            raise ValueError(f"marker must be one non-empty line: {marker!r}")
        text = with_marker(body, marker)

        def find_or_create() -> IssueRef:
            found = self._find_marked(repo, marker)
            if found is not None:
                return _ref(found)
            issue = self._gh.get_repo(repo).create_issue(title=title[:TITLE_MAX], body=text, labels=labels)
            log.info("github: opened %s#%d for %s", repo, issue.number, marker)
            return _ref(issue)

        return self._retry.call(f"ensure issue in {repo}", find_or_create)

    def comment(self, repo: str, number: int, body: str, key: str) -> None:
        """Comment once per `key`: skipped when one of our comments on the issue already carries its marker."""
        marker = comment_marker(key)
        text = with_marker(neutralize(body), marker)

        def check_then_comment() -> None:
            issue = self._gh.get_repo(repo).get_issue(number)
            me = self._me()
            if any(c.user.login == me and has_marker(c.body, marker) for c in issue.get_comments()):
                return
            issue.create_comment(text)

        self._retry.call(f"comment on {repo}#{number}", check_then_comment)

    def set_labels(self, repo: str, number: int, labels: list[str]) -> None:
        """Replace the issue's labels with `labels` (a PUT: repeating it changes nothing)."""
        self._retry.call(
            f"set labels of {repo}#{number}", lambda: self._gh.get_repo(repo).get_issue(number).set_labels(*labels)
        )

    def close_issue(self, repo: str, number: int) -> IssueRef:
        """Close the issue as completed; an issue already closed is left as it is."""

        def check_then_close() -> IssueRef:
            issue = self._gh.get_repo(repo).get_issue(number)
            if issue.state != "closed":
                issue.edit(state="closed", state_reason="completed")
            return _ref(issue)

        return self._retry.call(f"close {repo}#{number}", check_then_close)

    def assign(self, repo: str, number: int, assignees: list[str]) -> None:
        """Add `assignees` (POST .../assignees adds; repeating it changes nothing)."""
        if assignees:
            self._retry.call(
                f"assign {repo}#{number}",
                lambda: self._gh.get_repo(repo).get_issue(number).add_to_assignees(*assignees),
            )

    def set_body_line(self, repo: str, number: int, prefix: str, line: str) -> None:
        """Set one labelled line of our own issue's body (see `domain.text_lines`); an issue someone else
        opened is refused: its body is theirs."""

        def check_then_edit() -> None:
            issue = self._gh.get_repo(repo).get_issue(number)
            if issue.user.login != self._me():
                raise ValueError(f"{repo}#{number} was not opened by the agent: its body is left alone")
            body = issue.body or ""
            wanted = with_line(body, prefix, line)
            if wanted != body:
                issue.edit(body=wanted)

        self._retry.call(f"set a line of {repo}#{number}", check_then_edit)

    # --- helpers ------------------------------------------------------------------------------------------------
    def _me(self) -> str:
        """The token's login (the author of everything we write), fetched once."""
        with self._lock:
            if self._login is None:
                self._login = str(self._gh.get_user().login)
            return self._login

    def _find_marked(self, repo: str, marker: str) -> Any:
        """Our oldest issue holding `marker`: recent ones by listing (no lag), older ones through search."""
        me = self._me()
        since = datetime.now(UTC) - self._recent
        # PyGithub documents `creator` as a login string or NamedUser; its annotation only names the latter.
        recent = self._gh.get_repo(repo).get_issues(state="all", creator=me, since=since)  # type: ignore[arg-type]
        found = [i for i in recent if i.pull_request is None and has_marker(i.body, marker)]
        if not found:
            query = f'repo:{repo} is:issue in:body "{marker_search_text(marker)}"'
            hits = self._gh.search_issues(query)
            found = [i for i in hits if i.user.login == me and has_marker(i.body, marker)]
        return min(found, key=lambda issue: issue.number) if found else None

    def _pulls_of(self, repo: str, commit: Any, *, lookup: bool) -> list[int]:
        named = pull_numbers_in(commit.commit.message or "")
        if not lookup:
            return named
        try:
            pulls = self._retry.call(f"pulls of {commit.sha[:7]}", lambda: [p.number for p in commit.get_pulls()])
        except (IssueError, CallBudgetExceeded) as exc:  # PR numbers are a nicety: the commit is the evidence
            log.info("github: no pulls for %s in %s: %s", commit.sha[:7], repo, exc)
            return named
        return named + pulls


class MeteredToken(Auth.Token):
    """Token auth that charges every request to the current source's API-call budget: PyGithub asks its Auth
    for headers once per HTTP request, so this sees each one before it is sent."""

    def authentication(self, headers: dict[str, str]) -> None:
        charge("github")
        super().authentication(headers)


def _ref(issue: Any) -> IssueRef:
    return IssueRef(number=int(issue.number), state=str(issue.state), link=issue.html_url)
