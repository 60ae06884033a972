"""Ticket and issue text: the ServiceNow description, the GitHub issue body, update comments and the resolution,
rendered from Jinja2 templates in `templates/`.

Everything that came from outside (evidence summaries, culprits, alarm names, parameters) is untrusted. In
markdown every `{{ expression }}` is escaped unless a filter marked it safe: HTML special characters become
entities, markdown punctuation is backslash-escaped, `@` gets a zero-width space so nobody is pinged,
newlines collapse (so a value can never start a line such as `/approve ...`), and long values are truncated.
`code` renders a value as an inline code span (backticks removed). Only http(s) URLs without markup
characters become links. In plain text (ServiceNow) values are truncated, collapsed to one line and
ServiceNow's `[code]` HTML escape hatch is defused.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2
from markupsafe import Markup

from oncall_agent.domain.action import ActionStatus, PolicyDecision, ProposedAction
from oncall_agent.domain.evidence import Evidence, Hypothesis

TEMPLATES = Path(__file__).resolve().parent / "templates"
MARKER_PREFIX = "oncall-agent:incident="
SHORT_DIGEST = 12
GITHUB_BODY_LIMIT = 60_000  # GitHub refuses bodies over 65,536 characters
SERVICENOW_LIMIT = 30_000
Flavor = Literal["markdown", "text"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()#|~!:])")
_SN_CODE = re.compile(r"(?i)\[(/?)code\]")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"'`()\[\]{}|\\^]+$")


def _clean(value: Any, limit: int) -> str:
    text = " ".join(_CONTROL.sub("", str(value)).split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def md(value: Any, limit: int = 300) -> Markup:
    """Untrusted text as inert markdown: one line, truncated, no HTML, no markdown syntax, no @mentions."""
    text = html.escape(_clean(value, limit), quote=False)
    text = _MD_SPECIAL.sub(r"\\\1", text).replace("@", "@\u200b")
    return Markup(text)  # noqa: S704 - escaped above: this is the escaping function


def code(value: Any, limit: int = 160) -> Markup:
    """Untrusted identifier as an inline code span (nothing inside a code span is interpreted)."""
    text = _clean(value, limit).replace("`", "'").strip()
    return Markup(f"`{text}`" if text else "—")  # noqa: S704 - a code span is inert


def plain(value: Any, limit: int = 500) -> Markup:
    """Untrusted text for ServiceNow plain-text fields: one line, truncated, `[code]` defused."""
    return Markup(_SN_CODE.sub(r"[ \1code ]", _clean(value, limit)))  # noqa: S704 - plain text, not HTML


def safe_url(value: Any) -> Markup | None:
    """`value` if it is an http(s) URL with no characters that could break out of a link; else None."""
    text = str(value or "").strip()
    return Markup(text) if len(text) <= 2000 and _SAFE_URL.match(text) else None  # noqa: S704 - checked


def issue_marker(incident_id: str) -> str:
    """The hidden marker that identifies an incident's GitHub issue."""
    safe = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9_.:-]", "", incident_id))  # "--" cannot end the comment
    return f"<!-- {MARKER_PREFIX}{safe} -->"


def _finalizer(escape: Any) -> Any:
    def finalize(value: Any) -> Any:
        if isinstance(value, Markup):
            return value
        if value is None:
            return ""
        if isinstance(value, bool | int | float):
            return str(value)
        return escape(value)

    return finalize


def _environment(flavor: Flavor) -> jinja2.Environment:
    env = jinja2.Environment(  # noqa: S701 - not HTML: `finalize` escapes every expression for its medium
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        finalize=_finalizer(md if flavor == "markdown" else plain),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md if flavor == "markdown" else plain, code=code if flavor == "markdown" else plain)
    env.filters["url"] = safe_url
    return env


_ENVIRONMENTS = {"markdown": _environment("markdown"), "text": _environment("text")}


@dataclass(frozen=True)
class IncidentReport:
    """What the renderers show; `approvers` maps action id -> approver group, `api_url` is the agent's base URL."""

    incident_id: str
    service: str
    title: str
    status: str = ""
    severity: str = ""
    summary: str = ""
    alarm_name: str | None = None
    hypotheses: Sequence[Hypothesis] = ()
    evidence: Mapping[str, Evidence] = field(default_factory=dict)
    actions: Sequence[ProposedAction] = ()
    approvers: Mapping[str, str] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    api_url: str | None = None


def _hypothesis_view(rank: int, hypothesis: Hypothesis, evidence: Mapping[str, Evidence]) -> dict[str, Any]:
    features = sorted(hypothesis.features.items(), key=lambda item: -abs(item[1]))[:6]
    cited = [evidence[ev_id] for ev_id in hypothesis.evidence_for if ev_id in evidence][:8]
    return {
        "rank": rank,
        "category": hypothesis.category.value,
        "culprit": hypothesis.culprit,
        "confidence": f"{hypothesis.confidence:.0%}",
        "summary": hypothesis.summary,
        "features": [(name, f"{value:.2f}") for name, value in features],
        "evidence": [{"id": e.id, "kind": e.kind.value, "summary": e.summary, "link": safe_url(e.link)} for e in cited],
        "missing": [ev_id for ev_id in hypothesis.evidence_for if ev_id not in evidence],
        "against": list(hypothesis.evidence_against)[:8],
    }


def _action_view(action: ProposedAction, approvers: Mapping[str, str]) -> dict[str, Any]:
    return {
        "id": action.id,
        "kind": action.kind,
        "parameters": sorted(action.parameters.items()),
        "digest": action.digest[:SHORT_DIGEST],
        "policy": action.policy.value,
        "status": action.status.value,
        "risk": action.risk,
        "runbook": action.runbook_id,
        "approvers": approvers.get(action.id, "oncall"),
        "decided_by": action.decided_by,
        "decided_via": action.decided_via,
        "awaiting": action.policy is PolicyDecision.APPROVAL and action.status is ActionStatus.PROPOSED,
    }


def _context(report: IncidentReport, **extra: Any) -> dict[str, Any]:
    links = report.links
    issue = links.get("github_issue")
    return {
        "report": report,
        "marker": Markup(issue_marker(report.incident_id)),  # noqa: S704 - sanitised by issue_marker
        "hypotheses": [_hypothesis_view(i, h, report.evidence) for i, h in enumerate(report.hypotheses[:3], 1)],
        "actions": [_action_view(a, report.approvers) for a in report.actions],
        "api": (safe_url(report.api_url) or "").rstrip("/"),
        "servicenow": links.get("servicenow_number"),
        "servicenow_link": safe_url(links.get("servicenow_link")),
        "github": f"{links.get('github_repo', '')}#{issue}" if issue else None,
        "github_link": safe_url(links.get("github_link")),
        **extra,
    }


def _render(name: str, flavor: Flavor, limit: int, context: dict[str, Any]) -> str:
    text = _ENVIRONMENTS[flavor].get_template(name).render(context)
    return text if len(text) <= limit else text[: limit - 40] + "\n\n… (truncated)\n"


def short_description(report: IncidentReport) -> str:
    """A one-line title for the ServiceNow incident and the GitHub issue (plain text, at most 160 chars)."""
    return _clean(f"[oncall-agent] {report.service}: {report.title}", 160)


def servicenow_description(report: IncidentReport) -> str:
    return _render("servicenow_description.txt.j2", "text", SERVICENOW_LIMIT, _context(report))


def github_issue_body(report: IncidentReport) -> str:
    """The issue body; always contains the incident marker (it is written first, before any truncation)."""
    return _render("github_issue.md.j2", "markdown", GITHUB_BODY_LIMIT, _context(report))


def update_comment(report: IncidentReport, headline: str, flavor: Flavor = "markdown") -> str:
    """A GitHub comment (markdown) or ServiceNow work note (text) about what changed."""
    limit = GITHUB_BODY_LIMIT if flavor == "markdown" else SERVICENOW_LIMIT
    return _render("update_comment.md.j2", flavor, limit, _context(report, headline=headline, flavor=flavor))


def resolution(report: IncidentReport, note: str, flavor: Flavor = "markdown") -> str:
    """The closing comment (markdown) or ServiceNow close notes (text)."""
    limit = GITHUB_BODY_LIMIT if flavor == "markdown" else SERVICENOW_LIMIT
    return _render("resolution.md.j2", flavor, limit, _context(report, note=note, flavor=flavor))
