"""The subset of GitHub's issue search syntax the stand-in understands.

Qualifiers: `repo:owner/name`, `is:issue|pr|open|closed`, `type:issue|pr`, `state:open|closed`,
`in:title|body|comments`, `label:name`, `author:login`. Everything else (bare words and "quoted phrases") is
text that must appear, case-insensitively, in the searched fields (title, body and comments unless `in:`
says).
Tokens that look like `word:value` with an unknown key are text, so an unquoted marker still matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from oncall_agent.sandbox.standins.github_model import GhIssue

_QUALIFIERS = {"repo", "is", "type", "state", "in", "label", "author"}
_TOKEN = re.compile(r'(?:[^\s"]+:)?"[^"]*"|\S+')


@dataclass
class SearchQuery:
    repos: list[str] = field(default_factory=list)
    kind: str | None = None
    state: str | None = None
    fields: set[str] = field(default_factory=set)
    labels: list[str] = field(default_factory=list)
    author: str | None = None
    terms: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.repos or self.kind or self.state or self.labels or self.author or self.terms)


def parse_query(q: str) -> SearchQuery:
    """Split `q` into qualifiers and text terms (quoted phrases keep their spaces)."""
    query = SearchQuery()
    for token in _TOKEN.findall(q):
        key, sep, value = token.partition(":")
        if token.startswith('"') or not sep or key.lower() not in _QUALIFIERS:
            text = _unquote(token)
            if text:
                query.terms.append(text.lower())
            continue
        _apply_qualifier(query, key.lower(), _unquote(value))
    return query


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return token[1:-1]
    return token


def _apply_qualifier(query: SearchQuery, key: str, value: str) -> None:
    lowered = value.lower()
    if key == "repo":
        query.repos.append(lowered)
    elif key in {"is", "type"} and lowered in {"issue", "pr"}:
        query.kind = lowered
    elif key in {"is", "state"} and lowered in {"open", "closed"}:
        query.state = lowered
    elif key == "in":
        query.fields.update(part for part in lowered.split(",") if part in {"title", "body", "comments"})
    elif key == "label":
        query.labels.append(lowered)
    elif key == "author":
        query.author = lowered


def matches(query: SearchQuery, repo_name: str, issue: GhIssue) -> bool:
    """Whether `issue` of `repo_name` satisfies every part of `query`."""
    if query.repos and repo_name.lower() not in query.repos:
        return False
    if query.kind is not None and issue.is_pull != (query.kind == "pr"):
        return False
    if query.state is not None and issue.state != query.state:
        return False
    if query.author is not None and issue.author.lower() != query.author:
        return False
    issue_labels = {label.lower() for label in issue.labels}
    if any(label not in issue_labels for label in query.labels):
        return False
    fields = query.fields or {"title", "body", "comments"}
    haystack = []
    if "title" in fields:
        haystack.append(issue.title)
    if "body" in fields:
        haystack.append(issue.body)
    if "comments" in fields:
        haystack.extend(comment.body for comment in issue.comments)
    text = "\n".join(haystack).lower()
    return all(term in text for term in query.terms)
