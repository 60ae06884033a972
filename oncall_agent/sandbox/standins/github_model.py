"""Records of the GitHub stand-in (plain dataclasses, no web framework): what `GitHubState` holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class GhCommit:
    sha: str
    message: str
    author: str
    at: datetime
    pr: int | None = None
    files: list[str] = field(default_factory=list)


@dataclass
class GhPull:
    number: int
    title: str
    author: str
    created_at: datetime
    merged_at: datetime | None
    head_sha: str
    head_ref: str
    base_ref: str = "main"
    body: str = ""


@dataclass
class GhComment:
    id: int
    issue_number: int
    body: str
    author: str
    created_at: datetime
    updated_at: datetime


@dataclass
class GhLabel:
    id: int
    name: str
    color: str = "ededed"
    description: str = ""


@dataclass
class GhIssue:
    id: int
    number: int
    title: str
    body: str
    author: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    closed_at: datetime | None = None
    state_reason: str | None = None
    comments: list[GhComment] = field(default_factory=list)
    is_pull: bool = False
    searchable_after: float = 0.0


@dataclass
class GhDeployment:
    id: int
    sha: str
    environment: str
    created_at: datetime
    creator: str
    ref: str
    task: str = "deploy"
    description: str = ""


@dataclass
class GhRepo:
    id: int
    full_name: str
    created_at: datetime
    default_branch: str = "main"
    commits: list[GhCommit] = field(default_factory=list)
    pulls: dict[int, GhPull] = field(default_factory=dict)
    issues: dict[int, GhIssue] = field(default_factory=dict)
    labels: dict[str, GhLabel] = field(default_factory=dict)
    deployments: list[GhDeployment] = field(default_factory=list)
    permissions: dict[str, str] = field(default_factory=dict)

    def next_number(self) -> int:
        return max(self.issues, default=0) + 1

    def find_commit(self, ref: str) -> GhCommit | None:
        """By full SHA or unique prefix (at least 4 characters), as GitHub resolves commit references."""
        exact = [commit for commit in self.commits if commit.sha == ref]
        if exact:
            return exact[0]
        if len(ref) < 4:
            return None
        found = [commit for commit in self.commits if commit.sha.startswith(ref)]
        return found[0] if len(found) == 1 else None
