"""What the GitHub adapter reads and writes in domain terms: hidden markers that make writes findable, and the
conversion of PyGithub commits and issues into DeployRecord and TicketRecord."""

from __future__ import annotations

import re
from typing import Any

from oncall_agent.domain.records import DeployKind, DeployRecord, TicketRecord
from oncall_agent.domain.time import as_utc

MARKER_PREFIX = "<!-- oncall-agent:"
TITLE_MAX = 256  # GitHub refuses longer issue titles
BODY_MAX = 65_536  # GitHub refuses longer issue and comment bodies
_PR_IN_MESSAGE = re.compile(r"(?:\(#(\d+)\)\s*$|^Merge pull request #(\d+)\b)")


def comment_marker(key: str) -> str:
    """The hidden line that makes a comment findable by its idempotency key."""
    if not key or "-->" in key or "\n" in key:
        raise ValueError(f"comment key must be non-empty, one line, without '-->': {key!r}")
    return f"{MARKER_PREFIX}comment={key} -->"


def neutralize(text: str) -> str:
    """Untrusted text (alarm descriptions, log lines) must not carry a marker that passes for one of ours: an
    escaped `<` renders as the same characters but is no longer an HTML comment and no longer matches."""
    return text.replace(MARKER_PREFIX, "&lt;!-- oncall-agent:")


def with_marker(body: str, marker: str) -> str:
    """`body` with foreign markers neutralized and `marker` as its last line (cut to GitHub's size limit)."""
    text = neutralize(body.replace(marker, "")).rstrip()
    room = BODY_MAX - len(marker) - 2
    return f"{text[:room]}\n\n{marker}" if text else marker


def marker_search_text(marker: str) -> str:
    """The words of a marker, for GitHub search (which ignores HTML comment punctuation and quotes)."""
    return marker.replace("<!--", " ").replace("-->", " ").replace('"', " ").strip()


def has_marker(body: str | None, marker: str) -> bool:
    # Exact, not the search's fuzzy match: `incident=inc-1` must not find `incident=inc-10`.
    return marker in (body or "")


def pull_numbers_in(message: str) -> list[int]:
    """PR numbers a squash (`Title (#123)`) or merge (`Merge pull request #123`) commit names: no API call."""
    match = _PR_IN_MESSAGE.search(message.splitlines()[0] if message else "")
    return [int(next(group for group in match.groups() if group))] if match else []


def deploy_record(repo: str, commit: Any, pulls: list[int]) -> DeployRecord:
    """A DeployRecord from a PyGithub Commit (list item: sha, commit.{author,committer,message}, author)."""
    git = commit.commit
    when = (git.committer.date if git.committer else None) or git.author.date  # landed, not written
    message = git.message or ""
    actor = commit.author.login if commit.author is not None else (git.author.name if git.author else None)
    return DeployRecord(
        kind=DeployKind.GITHUB_COMMIT,
        target=repo,
        identifier=commit.sha,
        at=as_utc(when),
        actor=actor,
        details={
            "message": message.splitlines()[0] if message else "",
            "short_sha": commit.sha[:7],
            "pull_requests": sorted(set(pulls)),
        },
        link=commit.html_url,
    )


def deployment_record(repo: str, deployment: Any) -> DeployRecord:
    """A GitHub deployment (what a CD system reported deploying: a sha to an environment)."""
    return DeployRecord(
        kind=DeployKind.GITHUB_DEPLOYMENT,
        target=repo,
        identifier=str(deployment.sha),
        at=as_utc(deployment.created_at),
        actor=getattr(deployment.creator, "login", None),
        details={"environment": deployment.environment, "short_sha": str(deployment.sha)[:7], "id": deployment.id},
        link=getattr(deployment, "url", None),
    )


def ticket_record(repo: str, issue: Any) -> TicketRecord:
    """A TicketRecord from a PyGithub Issue or search hit."""
    return TicketRecord(
        system="github",
        kind="issue",
        number=str(issue.number),
        title=issue.title or "",
        state=issue.state,
        ci=repo,
        opened=as_utc(issue.created_at) if issue.created_at else None,
        labels=[label.name for label in issue.labels],
        link=issue.html_url,
    )
