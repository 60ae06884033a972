"""Known problems: GitHub issues of the service's repository whose title names what a new or increased error
signature says - the same exception class, or at least two of its distinctive words.

A match is cited by every hypothesis that cites the signature (and by the abstention, which cites the unexplained
signatures) with the feature `known_issue`. It tells the on-call engineer the error is already known, often with
a workaround in the issue; it changes no confidence, because an issue that describes an error says nothing about
what caused it this time.
"""

from __future__ import annotations

import re

from oncall_agent.domain.evidence import Evidence, Hypothesis
from oncall_agent.investigation.correlate.candidates import Facts
from oncall_agent.investigation.correlate.cause_common import NOISY_LEVELS, texts

MIN_SHARED_WORDS = 2
AGENT_LABEL = "oncall-agent"
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,}")
_EXCEPTION = re.compile(r"\b([A-Z][A-Za-z0-9]*(?:Exception|Error))\b")
# Words every log line and issue title uses: sharing them says nothing.
_COMMON = frozenset(
    {
        "error",
        "errors",
        "warn",
        "warning",
        "info",
        "debug",
        "failed",
        "failure",
        "fails",
        "exception",
        "exceptions",
        "with",
        "from",
        "that",
        "this",
        "when",
        "request",
        "requests",
        "response",
        "null",
        "none",
        "true",
        "false",
        "http",
        "https",
        "after",
        "before",
        "while",
        "during",
        "could",
        "cannot",
        "unable",
        "invalid",
        "timeout",
        "timed",
        "code",
        "status",
        "message",
        "service",
        "server",
        "client",
        "thread",
        "exec",
        "main",
        "java",
        "python",
    }
)


def distinctive_words(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text)} - _COMMON


def exception_names(text: str) -> set[str]:
    return set(_EXCEPTION.findall(text)) - {"Exception", "Error", "RuntimeError"}


def names_the_signature(title: str, signature_text: str) -> bool:
    """The issue title names the same exception class, or shares at least two distinctive words."""
    if exception_names(title) & exception_names(signature_text):
        return True
    return len(distinctive_words(title) & distinctive_words(signature_text)) >= MIN_SHARED_WORDS


def _known_issue(ticket: Evidence) -> bool:
    # The agent's own incident issues (label `oncall-agent`) describe incidents, which incident memory covers.
    github_issue = ticket.details.get("system") == "github" and ticket.details.get("kind") == "issue"
    return github_issue and AGENT_LABEL not in (ticket.details.get("labels") or [])


def _recent_or_grown(signature: Evidence) -> bool:
    return signature.details.get("level") in NOISY_LEVELS and signature.details.get("status") in ("new", "increased")


def match_known_issues(facts: Facts) -> dict[str, list[str]]:
    """signature evidence id -> ids of the GitHub issues that name it (new or increased errors and warnings)."""
    issues = [t for t in facts.tickets if _known_issue(t)]
    matched: dict[str, list[str]] = {}
    for signature in filter(_recent_or_grown, facts.signatures):
        text = " ".join(texts(signature))
        named = [issue.id for issue in issues if names_the_signature(str(issue.details.get("title", "")), text)]
        if named:
            matched[signature.id] = named
    return matched


def cite_known_issues(hypothesis: Hypothesis, matched: dict[str, list[str]]) -> Hypothesis:
    """The hypothesis citing, besides its evidence, the issues that name the signatures it cites."""
    issues = [i for e in hypothesis.evidence_for for i in matched.get(e, []) if i not in hypothesis.evidence_for]
    if not issues:
        return hypothesis
    return hypothesis.model_copy(
        update={
            "evidence_for": [*hypothesis.evidence_for, *dict.fromkeys(issues)],
            "features": {**hypothesis.features, "known_issue": 1.0},
        }
    )
