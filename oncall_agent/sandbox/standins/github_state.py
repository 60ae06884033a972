"""The GitHub stand-in's world: repositories with commits, pulls, issues, comments, labels and deployments.

Thread-safe (one re-entrant lock, `state.lock`, which the routes also hold while they read and render).
Issues and pulls share one number sequence per repository, as on GitHub: every pull also exists as an
issue (`is_pull`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from oncall_agent.domain.time import as_utc
from oncall_agent.sandbox.standins.github_model import (
    GhComment,
    GhCommit,
    GhDeployment,
    GhIssue,
    GhLabel,
    GhPull,
    GhRepo,
)


def _now() -> datetime:
    return datetime.now(UTC)


class GitHubState:
    """In-memory GitHub. `viewer` is the login the token belongs to (GET /user, author of API writes)."""

    def __init__(
        self,
        viewer: str = "oncall-agent",
        *,
        clock: Callable[[], datetime] = _now,
        search_lag_s: float = 0.0,
    ) -> None:
        self.lock = threading.RLock()
        self.viewer = viewer
        self.clock = clock
        self.search_lag_s = search_lag_s
        self._repos: dict[str, GhRepo] = {}
        # (org, team slug) lowercased -> (team id, login lowercased -> (role, state)); see `add_team`.
        self._teams: dict[tuple[str, str], tuple[int, dict[str, tuple[str, str]]]] = {}
        self._ids = 1000
        # Called (under the lock) after every new comment, API or seeded: the webhook sender hooks in here.
        self.on_comment: Callable[[GhRepo, GhIssue, GhComment], None] | None = None

    # --- seeding -------------------------------------------------------------------------------------------
    def add_repo(self, full_name: str) -> None:
        """Create the repository if it does not exist (owner/name); the viewer is its admin."""
        with self.lock:
            key = full_name.lower()
            if key not in self._repos:
                if full_name.count("/") != 1:
                    raise ValueError(f"repository must be owner/name, got {full_name!r}")
                repo = GhRepo(self._next_id(), full_name, self._stamp(self.clock()))
                repo.permissions[self.viewer.lower()] = "admin"
                self._repos[key] = repo

    def add_team(self, org: str, slug: str, members: Iterable[str] = (), pending: Iterable[str] = ()) -> None:
        """An organization team (`org/slug`) with active members and members whose invitation is pending."""
        with self.lock:
            key = (org.lower(), slug.lower())
            team_id, people = self._teams.get(key) or (self._next_id(), {})
            people.update({login.lower(): ("member", "active") for login in members})
            people.update({login.lower(): ("member", "pending") for login in pending})
            self._teams[key] = (team_id, people)

    def team_membership(self, org: str, slug: str, login: str) -> tuple[int, str, str] | None:
        """(team id, role, state) of `login` in the team, or None (no such team, or not a member)."""
        with self.lock:
            found = self._teams.get((org.lower(), slug.lower()))
            if found is None or login.lower() not in found[1]:
                return None
            role, state = found[1][login.lower()]
            return found[0], role, state

    def add_commit(
        self,
        repo: str,
        sha: str,
        message: str,
        author: str,
        at: datetime,
        pr: int | None = None,
        *,
        files: Iterable[str] = (),
    ) -> None:
        """Add a commit on the default branch; with `pr`, a merged pull of that number (made if needed)."""
        with self.lock:
            gh = self._repo_for_seed(repo)
            gh.commits = [commit for commit in gh.commits if commit.sha != sha]
            gh.commits.append(GhCommit(sha, message, author, self._stamp(at), pr, list(files)))
            gh.commits.sort(key=lambda commit: commit.at)
            if pr is not None and pr not in gh.pulls:
                self.add_pull(repo, pr, message.splitlines()[0] if message else sha, at, sha, author)

    def add_pull(
        self,
        repo: str,
        number: int,
        title: str,
        merged_at: datetime | None,
        head_sha: str,
        author: str,
        *,
        body: str = "",
    ) -> None:
        """Add (or replace) a pull request; merged when `merged_at` is given, open otherwise."""
        with self.lock:
            gh = self._repo_for_seed(repo)
            merged = self._stamp(merged_at) if merged_at is not None else None
            created = merged if merged is not None else self._stamp(self.clock())
            gh.pulls[number] = GhPull(number, title, author, created, merged, head_sha, f"pr-{number}", body=body)
            issue = GhIssue(self._next_id(), number, title, "", author, created, created, is_pull=True)
            if merged is not None:
                issue.state, issue.closed_at = "closed", merged
            gh.issues[number] = issue

    def add_issue(
        self,
        repo: str,
        number: int,
        title: str,
        opened: datetime,
        labels: list[str],
        body: str = "",
        state: str = "open",
        author: str = "octocat",
    ) -> None:
        """Add (or replace) an issue; searchable at once."""
        with self.lock:
            gh = self._repo_for_seed(repo)
            when = self._stamp(opened)
            issue = GhIssue(self._next_id(), number, title, body, author, when, when, state=state)
            issue.labels = [self._label(gh, name).name for name in labels]
            if state == "closed":
                issue.closed_at, issue.state_reason = when, "completed"
            gh.issues[number] = issue

    def add_deployment(self, repo: str, sha: str, environment: str, at: datetime, creator: str) -> int:
        """Add a deployment of `sha`; returns its id."""
        with self.lock:
            gh = self._repo_for_seed(repo)
            deployment = GhDeployment(self._next_id(), sha, environment, self._stamp(at), creator, ref=sha)
            gh.deployments.append(deployment)
            return deployment.id

    def add_collaborator(self, repo: str, user: str, permission: str = "write") -> None:
        """Grant `permission` (admin, maintain, write, triage, read); others get "none"."""
        with self.lock:
            self._repo_for_seed(repo).permissions[user.lower()] = permission

    def add_comment(self, repo: str, number: int, body: str, author: str, at: datetime | None = None) -> int:
        """Add a comment by anyone (e.g. an approver's `/approve <id>`); returns its id."""
        with self.lock:
            return self.create_comment(repo, number, body, author, at).id

    # --- accessors for tests -------------------------------------------------------------------------------
    def issues(self, repo: str) -> list[GhIssue]:
        """Copies of the repository's issues (pulls excluded), by number."""
        with self.lock:
            gh = self.repo(repo)
            found = [] if gh is None else sorted(gh.issues.values(), key=lambda issue: issue.number)
            return [_copy_issue(issue) for issue in found if not issue.is_pull]

    def comments(self, repo: str, number: int) -> list[GhComment]:
        with self.lock:
            issue = self.issue(repo, number)
            return [] if issue is None else [dataclasses.replace(comment) for comment in issue.comments]

    # --- lookups and writes used by the routes -------------------------------------------------------------
    def repo(self, full_name: str) -> GhRepo | None:
        return self._repos.get(full_name.lower())

    def all_repos(self) -> list[GhRepo]:
        return list(self._repos.values())

    def issue(self, repo: str, number: int) -> GhIssue | None:
        gh = self.repo(repo)
        return None if gh is None else gh.issues.get(number)

    def create_issue(self, repo: str, title: str, body: str, labels: list[str], assignees: list[str]) -> GhIssue:
        with self.lock:
            gh = self._existing(repo)
            now = self._stamp(self.clock())
            issue = GhIssue(self._next_id(), gh.next_number(), title, body, self.viewer, now, now)
            issue.labels = [self._label(gh, name).name for name in labels]
            issue.assignees = list(assignees)
            issue.searchable_after = time.monotonic() + self.search_lag_s
            gh.issues[issue.number] = issue
            return issue

    def update_issue(self, issue: GhIssue, **changes: object) -> None:
        """Apply PATCH fields (title, body, state, state_reason, labels, assignees)."""
        with self.lock:
            now = self._stamp(self.clock())
            for key in ("title", "body", "assignees"):
                if key in changes:
                    setattr(issue, key, changes[key])
            if "state" in changes and changes["state"] != issue.state:
                issue.state = str(changes["state"])
                issue.closed_at = now if issue.state == "closed" else None
                issue.state_reason = "completed" if issue.state == "closed" else "reopened"
            if changes.get("state_reason") is not None:
                issue.state_reason = str(changes["state_reason"])
            issue.updated_at = now

    def set_labels(self, repo: str, issue: GhIssue, names: Iterable[str], *, replace: bool) -> None:
        with self.lock:
            gh = self._existing(repo)
            wanted = [] if replace else list(issue.labels)
            for name in names:
                label = self._label(gh, name)
                if label.name not in wanted:
                    wanted.append(label.name)
            issue.labels = wanted
            issue.updated_at = self._stamp(self.clock())

    def create_comment(
        self, repo: str, number: int, body: str, author: str | None = None, at: datetime | None = None
    ) -> GhComment:
        with self.lock:
            issue = self.issue(repo, number)
            if issue is None:
                raise KeyError(f"{repo}#{number}")
            when = self._stamp(at or self.clock())
            comment = GhComment(self._next_id(), number, body, author or self.viewer, when, when)
            issue.comments.append(comment)
            issue.updated_at = max(issue.updated_at, when)
            if self.on_comment is not None:
                self.on_comment(self._existing(repo), issue, comment)
            return comment

    def find_comment(self, repo: str, comment_id: int) -> GhComment | None:
        gh = self.repo(repo)
        for issue in [] if gh is None else gh.issues.values():
            for comment in issue.comments:
                if comment.id == comment_id:
                    return comment
        return None

    def create_label(self, repo: str, name: str, color: str, description: str) -> GhLabel | None:
        """A new repository label, or None when one of that name exists."""
        with self.lock:
            gh = self._existing(repo)
            if name.lower() in gh.labels:
                return None
            return self._label(gh, name, color, description)

    def stamp_now(self) -> datetime:
        return self._stamp(self.clock())

    # --- internals -----------------------------------------------------------------------------------------
    def _existing(self, repo: str) -> GhRepo:
        gh = self.repo(repo)
        if gh is None:
            raise KeyError(repo)
        return gh

    def _repo_for_seed(self, repo: str) -> GhRepo:
        self.add_repo(repo)
        return self._existing(repo)

    def _label(self, gh: GhRepo, name: str, color: str = "ededed", description: str = "") -> GhLabel:
        key = name.lower()
        if key not in gh.labels:
            gh.labels[key] = GhLabel(self._next_id(), name, color, description)
        return gh.labels[key]

    def _next_id(self) -> int:
        with self.lock:
            self._ids += 1
            return self._ids

    @staticmethod
    def _stamp(moment: datetime) -> datetime:
        return as_utc(moment).replace(microsecond=0)


def _copy_issue(issue: GhIssue) -> GhIssue:
    return dataclasses.replace(
        issue,
        labels=list(issue.labels),
        assignees=list(issue.assignees),
        comments=[dataclasses.replace(comment) for comment in issue.comments],
    )
