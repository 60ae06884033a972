"""Ticket and issue text: the ServiceNow description, the GitHub issue body, update comments and the resolution,
rendered from Jinja2 templates in `templates/`.

Everything that came from outside (evidence summaries, culprits, alarm names, parameters) is untrusted. In
markdown every `{{ expression }}` is escaped unless a filter marked it safe: punctuation that would mean
something there (a tag, an entity, emphasis, a link, a block at the start of a line) is backslash-escaped,
`@` gets a zero-width space so nobody is pinged, newlines collapse (so a value can never start a line such
as `/approve ...`), and long values are shortened at a word boundary. `code` renders a value as an inline
code span (backticks removed). Only http(s) URLs without markup characters become links. In plain text
(ServiceNow) values are shortened, collapsed to one line and
ServiceNow's `[code]` HTML escape hatch is defused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2
from markupsafe import Markup

from oncall_agent.domain.action import DEFAULT_APPROVERS, ActionStatus, PolicyDecision, ProposedAction
from oncall_agent.domain.evidence import Evidence, Hypothesis
from oncall_agent.domain.reasoning import usage_line

TEMPLATES = Path(__file__).resolve().parent / "templates"
MARKER_PREFIX = "oncall-agent:incident="
SHORT_DIGEST = 12
GITHUB_BODY_LIMIT = 60_000  # GitHub refuses bodies over 65,536 characters
SERVICENOW_LIMIT = 30_000
SERVICENOW_PREFIX = "**ServiceNow:** "  # the issue body's line naming the ServiceNow incident
GITHUB_PREFIX = "GitHub issue: "  # the ServiceNow description's line naming the GitHub issue
PENDING_LINK = "being opened (the link follows)"
EVIDENCE_LIMIT = 300  # what an evidence summary is shortened to in the tickets (the console shows it whole)
Flavor = Literal["markdown", "text"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# Escaped wherever they appear: code spans, emphasis, links/images (no `[`, so `](` and `![` cannot form), strike,
# tables. Everything else is escaped only where it would mean something (below), so `checkout:118` stays as is.
_MD_ALWAYS = re.compile(r"([\\`*\[\]~|])")
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")  # intraword `_` is never emphasis in GFM
_MD_TAG = re.compile(r"<(?=[A-Za-z/!?])")  # an HTML tag or comment could start here
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")  # an entity such as `&#64;` would be decoded
_MD_LINK_TARGET = re.compile(r"(?<=\\\])\(")  # `](` after an escaped `]`: kept visibly inert too
_MD_AUTOLINK = re.compile(r"(?<=[A-Za-z0-9]):(?=//)")  # `scheme://` would become a link
# A heading, quote, list item or rule, if the value starts a line.
_MD_LINE_START = re.compile(r"^(>|[#+=-]+(?=\s|$)|\d+[.)](?=\s|$))")
_SN_CODE = re.compile(r"(?i)\[(/?)code\]")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"'`()\[\]{}|\\^]+$")


def _clean(value: Any, limit: int) -> str:
    text = " ".join(_CONTROL.sub("", str(value)).split())
    return text if len(text) <= limit else shorten(text, limit)


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters (with the ellipsis) at a word boundary, not mid-word; a single
    word longer than most of the limit is cut where it must be."""
    if len(text) <= limit:
        return text
    head = text[: max(limit - 1, 0)]
    if not text[len(head)].isspace():
        cut = head.rstrip().rfind(" ")
        if cut >= limit * 0.6:  # a word boundary near the end: cut there; else the text is one long token
            head = head[:cut]
    return head.rstrip(" ,;:") + "…"


def md(value: Any, limit: int = 300) -> Markup:
    """Untrusted text as inert markdown: one line, truncated, no HTML, no markdown syntax, no @mentions."""
    text = _MD_ALWAYS.sub(r"\\\1", _clean(value, limit))
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    text = _MD_TAG.sub(r"\\<", text)
    text = _MD_ENTITY.sub(r"\\&", text)
    text = _MD_AUTOLINK.sub(r"\\:", text)
    text = _MD_LINK_TARGET.sub(r"\\(", text)
    text = _MD_LINE_START.sub(r"\\\1", text).replace("@", "@\u200b")
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
    """What the renderers show; `approvers` maps action id -> approver group (overriding the group the action
    carries, which is the policy's: the service's owning team), `api_url` is the agent's base URL."""

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
    console_url: str | None = None
    linked: frozenset[str] = frozenset()  # trackers ("servicenow", "github") whose record gets linked once it exists
    llm: Mapping[str, Any] | None = None  # the reason step's totals, narrative and disagreement (when it ran)


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
        "evidence": [
            {
                "id": e.id,
                "kind": e.kind.value,
                "summary": e.summary,
                "link": safe_url(e.link),
                "shortened": len(" ".join(e.summary.split())) > EVIDENCE_LIMIT,
            }
            for e in cited
        ],
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
        "approvers": approvers.get(action.id) or action.approvers or DEFAULT_APPROVERS,
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
        "console_link": _console_link(report),
        "servicenow_line": _or_placeholder(servicenow_line(links), SERVICENOW_PREFIX, "servicenow" in report.linked),
        "github_line": _or_placeholder(github_line(links), GITHUB_PREFIX, "github" in report.linked),
        "servicenow": links.get("servicenow_number"),
        "github": f"{links.get('github_repo', '')}#{issue}" if issue else None,
        "llm": _llm_view(report.llm),
        **extra,
    }


def servicenow_line(links: Mapping[str, str]) -> Markup | None:
    """The GitHub issue's line naming the ServiceNow incident (markdown), once the incident exists."""
    number = links.get("servicenow_number")
    if not number:
        return None
    url = safe_url(links.get("servicenow_link"))
    text = md(number, 40)
    return Markup(f"{SERVICENOW_PREFIX}[{text}]({url})" if url else f"{SERVICENOW_PREFIX}{text}")  # noqa: S704


def github_line(links: Mapping[str, str]) -> Markup | None:
    """The ServiceNow description's line naming the GitHub issue (plain text), once the issue exists."""
    issue = links.get("github_issue")
    if not issue:
        return None
    url = safe_url(links.get("github_link"))
    text = plain(f"{links.get('github_repo', '')}#{issue}", 200)
    return Markup(f"{GITHUB_PREFIX}{text} {url}" if url else f"{GITHUB_PREFIX}{text}")  # noqa: S704


def _or_placeholder(line: Markup | None, prefix: str, expected: bool) -> Markup | None:
    """The line, or (for a record that will exist) the placeholder its cross-link replaces later."""
    return line if line is not None or not expected else Markup(f"{prefix}{PENDING_LINK}")  # noqa: S704


def _llm_view(totals: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not totals:
        return None
    return {
        "narrative": totals.get("narrative") or "",
        "disagreement": totals.get("disagreement") or "",
        "usage": usage_line(dict(totals)),
    }


def _console_link(report: IncidentReport) -> Markup | None:
    """The incident's page in the console, when its base URL is configured."""
    base = safe_url(report.console_url)
    return safe_url(f"{str(base).rstrip('/')}/incidents/{report.incident_id}") if base else None


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
