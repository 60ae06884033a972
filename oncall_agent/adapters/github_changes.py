"""Reading what one commit or pull request of a repository changed (GitHubTracker.change_summary): one retried
read of the commit (its answer carries the files) or of the pull and the first page of its files."""

from __future__ import annotations

import itertools
from typing import Any

from github import Github

from oncall_agent.adapters.github_records import commit_summary, pull_summary
from oncall_agent.adapters.github_retry import GitHubRetry, IssueError
from oncall_agent.domain.records import CHANGE_FILES_MAX, ChangeSummary, change_ref

# GitHub answers 422 "No commit found for SHA" for a sha the repository does not have, 404 for a pull (or repo).
_NOT_FOUND = (404, 422)


def read_change(gh: Github, retry: GitHubRetry, repo: str, ref: str) -> ChangeSummary | None:
    """The ChangeSummary of `ref` (see `domain.records.change_ref`) in `repo`, None when there is none."""
    kind, value = change_ref(ref)

    def read() -> ChangeSummary:
        found = gh.get_repo(repo)
        if kind == "pull":
            pull = found.get_pull(int(value))
            return pull_summary(repo, pull, _first(pull.get_files()))
        commit = found.get_commit(value)
        return commit_summary(repo, commit, _first(commit.files))

    try:
        return retry.call(f"read {kind} {value} of {repo}", read)
    except IssueError as exc:
        if exc.status in _NOT_FOUND:
            return None
        raise


def _first(files: Any) -> list[Any]:
    return list(itertools.islice(files, CHANGE_FILES_MAX))
