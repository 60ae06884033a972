"""What the GitHub adapter reads and writes in domain terms: hidden markers that make writes findable, and the
conversion of PyGithub commits, pulls and issues into DeployRecord, ChangeSummary and TicketRecord."""

from __future__ import annotations

import re
from typing import Any

from oncall_agent.domain.records import (
    CHANGE_BODY_MAX,
    ChangedFile,
    ChangeSummary,
    DeployKind,
    DeployRecord,
    TicketRecord,
)
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


def _changed_files(files: list[Any]) -> list[ChangedFile]:
    """PyGithub File items (filename, status, additions, deletions)."""
    return [
        ChangedFile(filename=f.filename, status=f.status or "", additions=f.additions or 0, deletions=f.deletions or 0)
        for f in files
    ]


def _split_message(message: str) -> tuple[str, str]:
    title, _, body = message.partition("\n")
    return title.strip(), body.strip()[:CHANGE_BODY_MAX]


def commit_summary(repo: str, commit: Any, files: list[Any]) -> ChangeSummary:
    """A ChangeSummary from a PyGithub Commit as GET .../commits/{ref} returns it (with `stats` and `files`)."""
    git = commit.commit
    title, body = _split_message(git.message or "")
    when = (git.committer.date if git.committer else None) or (git.author.date if git.author else None)
    stats = commit.stats
    return ChangeSummary(
        kind="commit",
        repo=repo,
        ref=commit.sha,
        title=title,
        body=body,
        author=commit.author.login if commit.author is not None else (git.author.name if git.author else None),
        at=as_utc(when) if when else None,
        url=commit.html_url,
        additions=stats.additions or 0,
        deletions=stats.deletions or 0,
        # GitHub's commit answer has no file count; its first page lists up to 300 files, exact below that.
        changed_files=max(len(commit.raw_data.get("files") or []), len(files)),
        files=_changed_files(files),
    )


def pull_summary(repo: str, pull: Any, files: list[Any]) -> ChangeSummary:
    """A ChangeSummary from a PyGithub PullRequest (GET .../pulls/{n}) and the first of its files."""
    merged = pull.merged_at is not None
    when = pull.merged_at or pull.created_at
    return ChangeSummary(
        kind="pull",
        repo=repo,
        ref=f"#{pull.number}",
        title=(pull.title or "").strip(),
        body=(pull.body or "").strip()[:CHANGE_BODY_MAX],
        author=pull.user.login if pull.user is not None else None,
        at=as_utc(when) if when else None,
        url=pull.html_url,
        state="merged" if merged else pull.state,
        additions=pull.additions or 0,
        deletions=pull.deletions or 0,
        changed_files=pull.changed_files or len(files),
        files=_changed_files(files),
        merge_commit_sha=pull.merge_commit_sha if merged else None,
    )
