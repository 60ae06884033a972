"""What `incidents list` and `incidents show` print for people: an aligned table with headers, and one incident
in sections with plain words, humane times and numbers (scripts use `--json`, which is unchanged)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from oncall_agent.domain.reasoning import usage_line

STATUS_WORDS = {
    "open": "open",
    "investigating": "investigating",
    "awaiting_approval": "waiting for approval",
    "mitigating": "fixing",
    "resolved": "resolved",
    "escalated": "escalated to people",
    "closed": "closed",
}
ACTION_WORDS = {"proposed": "proposed", "approved": "approved", "rejected": "rejected", "expired": "expired"}
POLICY_WORDS = {"auto": "runs automatically", "approval": "needs approval", "deny": "not allowed"}


def duration(seconds: float) -> str:
    """`45 s`, `12 min`, `3 h 05 min`, `2 days 4 h`."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h"


def ago(at: str, now: datetime) -> str:
    return f"{duration((now - datetime.fromisoformat(at)).total_seconds())} ago"


def when(at: str) -> str:
    """An ISO time as `2026-03-01 10:04:07 UTC`."""
    return datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M:%S UTC")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return [lines[0], "  ".join("-" * w for w in widths), *lines[1:]]


def incident_table(rows: Sequence[dict[str, Any]], now: datetime) -> list[str]:
    if not rows:
        return ["no incidents"]
    body = [
        [
            r["id"],
            STATUS_WORDS.get(r["status"], r["status"]),
            r.get("severity") or "unknown",
            r["service"],
            ago(r["first_event_at"], now),
            ", ".join(a["name"] for a in r["alarms"]) or "-",
        ]
        for r in rows
    ]
    return table(["INCIDENT", "STATUS", "SEVERITY", "SERVICE", "STARTED", "ALARMS"], body)


def describe_incident(view: dict[str, Any], now: datetime) -> list[str]:
    links = view.get("links") or {}
    lines = [
        f"Incident {view['id']}: {view['service']}",
        f"  Status:    {STATUS_WORDS.get(view['status'], view['status'])}",
        f"  Severity:  {view.get('severity') or 'unknown'}",
        f"  Started:   {when(view['first_event_at'])} ({ago(view['first_event_at'], now)})",
    ]
    if links.get("servicenow_number"):
        lines.append(f"  ServiceNow: {links['servicenow_number']}")
    if links.get("github_issue"):
        lines.append(f"  GitHub:    {links.get('github_repo', '')}#{links['github_issue']}")
    if view.get("trace_id"):
        lines.append(f"  Trace:     {view['trace_id']}")
    lines += ["", "Alarms", *[f"  {a['name']}: {a['state']}" for a in view["alarms"]]]
    lines += ["", "Likely causes", *_hypotheses(view)]
    lines += _llm(view.get("llm"))
    lines += ["", "Actions", *(_actions(view) or ["  none proposed"])]
    lines += ["", "Timeline", *[f"  {when(e['at'])}  {e['message']}" for e in view["timeline"]]]
    return lines


def _hypotheses(view: dict[str, Any]) -> list[str]:
    evidence = {e["id"]: e for e in view["evidence"]}
    lines: list[str] = []
    for rank, h in enumerate(view["hypotheses"], 1):
        cause = f"{h['category']} ({h['culprit']})" if h.get("culprit") else h["category"]
        lines.append(f"  {rank}. {cause}, {h['confidence']:.0%} confident")
        if h.get("summary"):
            lines.append(f"     {h['summary']}")
        for ev_id in h["evidence_for"][:3]:
            if ev_id in evidence:
                lines.append(f"     - {evidence[ev_id]['summary']}")
    return lines or ["  none yet"]


def _llm(totals: dict[str, Any] | None) -> list[str]:
    if not totals:
        return []
    lines = ["", "The model's reading (LLM)"]
    if totals.get("narrative"):
        lines.append(f"  {' '.join(str(totals['narrative']).split())}")
    if totals.get("disagreement"):
        lines.append(f"  Disagreement: {totals['disagreement']}")
    return [*lines, f"  {usage_line(totals)}"]


def _actions(view: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for a in view["actions"]:
        params = ", ".join(f"{k}={v}" for k, v in sorted(a["parameters"].items())) or "no parameters"
        status = ACTION_WORDS.get(a["status"], a["status"])
        decided = f" by {a['decided_by']} (via {a['decided_via']})" if a.get("decided_by") else ""
        lines.append(f"  {a['kind']} {a['id']}: {status}{decided}; {POLICY_WORDS.get(a['policy'], a['policy'])}")
        lines.append(f"     {params}")
        if a["policy"] == "approval" and a["status"] == "proposed":
            group = a.get("approvers") or "oncall"
            lines.append(f"     approvers: {group}; approve with `oncall-agent approve {a['id']} --as NAME`")
    return lines
