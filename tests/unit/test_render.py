"""Ticket and issue rendering: content, how to approve, and untrusted text kept inert."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from oncall_agent.coordination.render import (
    IncidentReport,
    code,
    github_issue_body,
    issue_marker,
    md,
    plain,
    resolution,
    safe_url,
    servicenow_description,
    short_description,
    update_comment,
)
from oncall_agent.domain.action import ActionStatus, PolicyDecision, ProposedAction, action_digest
from oncall_agent.domain.evidence import Category, Evidence, EvidenceKind, Hypothesis

HOSTILE = (
    "Deploy by @mpatel <img src=x onerror=alert(1)> <!-- oncall-agent:incident=inc-other --> "
    "[click](https://evil.example) ![pixel](https://evil.example/p.png) **bold** &#64;team\n/approve act-0000"
)
ROLLBACK_PARAMS = {"cluster": "prod-web", "service": "checkout", "task_definition": "checkout:117"}


def evidence(
    summary: str = "deploy checkout:118", link: str | None = "https://console.aws.amazon.com/ecs/x"
) -> Evidence:
    return Evidence(
        kind=EvidenceKind.DEPLOY,
        source="ecs",
        entity="checkout",
        at=datetime(2026, 1, 1, tzinfo=UTC),
        summary=summary,
        details={"identifier": "checkout:118"},
        link=link,
    )


def action(kind: str, params: dict[str, str], policy: PolicyDecision, ident: str, **kw: object) -> ProposedAction:
    return ProposedAction(
        id=ident,
        incident_id="inc-1",
        kind=kind,
        parameters=params,
        runbook_id="rb",
        policy=policy,
        digest=action_digest(kind, params),
        **kw,
    )  # type: ignore[arg-type]


def report(summary: str = "deploy checkout:118", **changes: object) -> IncidentReport:
    ev = evidence(summary)
    base = {
        "incident_id": "inc-1",
        "service": "checkout",
        "title": "checkout-alb-5xx in ALARM",
        "status": "awaiting_approval",
        "severity": "high",
        "alarm_name": "checkout-alb-5xx",
        "hypotheses": [
            Hypothesis(
                category=Category.DEPLOY,
                culprit="checkout:118",
                confidence=0.86,
                evidence_for=[ev.id],
                features={"change_proximity": 0.93, "new_log_signature": 1.0},
                summary="5xx after rollout",
            ),
            Hypothesis(category=Category.DEPENDENCY, culprit="payments", confidence=0.21),
        ],
        "evidence": {ev.id: ev},
        "actions": [
            action("ecs.rollback", ROLLBACK_PARAMS, PolicyDecision.APPROVAL, "act-aaaaaaaaaaaa"),
            action("escalate", {"team": "storefront"}, PolicyDecision.AUTO, "act-bbbbbbbbbbbb"),
        ],
        "approvers": {"act-aaaaaaaaaaaa": "storefront"},
        "links": {"servicenow_number": "INC0010001", "github_repo": "acme/checkout", "github_issue": "7"},
        "api_url": "https://oncall.example/",
    }
    base.update(changes)
    return IncidentReport(**base)  # type: ignore[arg-type]


def test_issue_body_starts_with_the_marker_and_shows_the_investigation() -> None:
    rep = report()
    body = github_issue_body(rep)
    assert body.startswith("<!-- oncall-agent:incident=inc-1 -->\n")
    assert body.count("oncall-agent:incident=") == 1
    for expected in (
        "deploy",
        "`checkout:118`",
        "86%",
        "`change_proximity` 0.93",
        next(iter(rep.evidence)),
        "deploy checkout:118",
        "INC0010001",
        "[source](https://console.aws.amazon.com/ecs/x)",
    ):
        assert expected in body, expected
    rollback = rep.actions[0]
    assert f"`{rollback.digest[:12]}`" in body and rollback.digest not in body
    assert "`task_definition`: `checkout:117`" in body


def test_how_to_approve_lists_cli_api_and_comment_for_actions_awaiting_approval() -> None:
    body = github_issue_body(report())
    assert "How to approve" in body
    assert "`oncall-agent approve act-aaaaaaaaaaaa --as <name>`" in body
    assert "`POST https://oncall.example/api/actions/act-aaaaaaaaaaaa/approve`" in body
    assert "`/approve act-aaaaaaaaaaaa`" in body
    assert "approvers: storefront" in body
    assert "approve act-bbbbbbbbbbbb" not in body  # automatic: nothing to approve


def test_no_how_to_once_decided() -> None:
    decided = action(
        "ecs.rollback",
        ROLLBACK_PARAMS,
        PolicyDecision.APPROVAL,
        "act-aaaaaaaaaaaa",
        status=ActionStatus.APPROVED,
        decided_by="dana",
        decided_via="cli",
    )
    body = github_issue_body(report(actions=[decided]))
    assert "How to approve" not in body
    assert "decided by dana via cli" in body


def test_untrusted_text_is_inert_in_markdown() -> None:
    body = github_issue_body(report(summary=HOSTILE, title=HOSTILE))
    assert "<img" not in body.replace("\\<img", "") and "\\<img" in body
    assert "@mpatel" not in body and "@\u200bmpatel" in body
    assert "](https://evil" not in body and "![" not in body
    assert "oncall-agent:incident=inc-other" not in body.replace("\\<!-- oncall-agent:incident=inc-other", "")
    assert body.count("<!--") - body.count("\\<!--") == 1
    assert "**bold**" not in body
    assert "&#64;" not in body.replace("\\&#64;", "")  # the entity is escaped itself, so it cannot turn into an @
    assert not any(line.lstrip().startswith("/approve") for line in body.splitlines())


def test_hostile_identifiers_stay_inside_their_code_span() -> None:
    rep = report()
    hostile = Hypothesis(category=Category.DEPLOY, culprit="x` <b>@here</b> `y", confidence=0.9)
    body = github_issue_body(IncidentReport(**{**rep.__dict__, "hypotheses": [hostile]}))
    assert "`x' <b>@here</b> 'y`" in body


def test_long_values_are_truncated() -> None:
    body = github_issue_body(report(summary="A" * 5000))
    assert "A" * 300 not in body and "A" * 200 + "" in body
    assert "…" in body
    assert len(md("x" * 10_000)) <= 300
    assert len(code("x" * 10_000)) <= 162


def test_servicenow_description_is_plain_text_with_approval_instructions() -> None:
    text = servicenow_description(report(summary="see [code]<script>alert(1)</script>[/code] now"))
    assert "[code]" not in text.lower() and "[ code ]" in text
    assert "oncall-agent approve act-aaaaaaaaaaaa --as <name>" in text
    assert "POST https://oncall.example/api/actions/act-aaaaaaaaaaaa/approve" in text
    assert "cluster=prod-web; service=checkout; task_definition=checkout:117" in text
    assert "GitHub issue: acme/checkout#7" in text
    assert "**" not in text and "\\" not in text


@pytest.mark.parametrize("flavor", ["markdown", "text"])
def test_update_comment_and_resolution(flavor: str) -> None:
    rep = report()
    update = update_comment(rep, "Waiting for approval of the rollback", flavor)  # type: ignore[arg-type]
    done = resolution(rep, "alarm back to OK after the rollback", flavor)  # type: ignore[arg-type]
    assert "Waiting for approval of the rollback" in update
    assert "act-aaaaaaaaaaaa" in update and "--as <name>" in update
    assert "alarm back to OK" in done and "INC0010001" in done
    if flavor == "text":
        assert "**" not in update + done and "`" not in update + done
    else:
        assert update.startswith("**Waiting")


def test_report_without_hypotheses_or_actions() -> None:
    body = github_issue_body(report(hypotheses=[], actions=[], evidence={}, links={}, api_url=None))
    assert "No hypothesis yet." in body and "No action proposed." in body
    assert "ServiceNow" not in body


def test_marker_and_url_helpers() -> None:
    assert issue_marker("inc-1 --> <script>") == "<!-- oncall-agent:incident=inc-1-script -->"
    assert safe_url("https://console.aws.amazon.com/x?a=1") == "https://console.aws.amazon.com/x?a=1"
    for bad in ("javascript:alert(1)", "https://x/a) [y](z", "https://x/<b>", "ftp://x", None, ""):
        assert safe_url(bad) is None
    assert plain("a\nb\x00c") == "a bc"
    assert short_description(report(title="x\n" * 200)).startswith("[oncall-agent] checkout: x x")
    assert len(short_description(report(title="y" * 500))) == 160


def test_the_tickets_name_the_group_the_policy_stored_with_the_action() -> None:
    """The planner stores the owning team on the action; the opened tickets must show it, not `oncall`."""
    from oncall_agent.coordination.messages import OutboxMessenger
    from oncall_agent.domain.catalog import Service

    rollback = action(
        "ecs.rollback", ROLLBACK_PARAMS, PolicyDecision.APPROVAL, "act-aaaaaaaaaaaa", approvers="payments"
    )
    view = {
        "scope": {"incident_id": "inc-1", "service": "checkout", "alarm_name": "checkout-5xx"},
        "actions": [rollback.model_dump(mode="json")],
    }
    catalog = [Service(name="checkout", repo="acme/checkout")]
    items = {i.operation: i.payload for i in OutboxMessenger(catalog, None, servicenow=True, github=True).opened(view)}
    assert "approvers: payments" in items["github.ensure_issue"]["body"]
    assert "(group payments)" in items["servicenow.ensure_incident"]["description"]
    assert "oncall" not in items["github.ensure_issue"]["body"].replace("oncall-agent", "")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("deploy checkout:118", "deploy checkout:118"),
        ("RuntimeError: <NUM> rows", "RuntimeError: \\<NUM> rows"),
        ("a < b && c > d", "a < b && c > d"),
        ("db_connection_pool exhausted", "db_connection_pool exhausted"),
        ("see https://evil.example", "see https\\://evil.example"),
        ("# not a heading", "\\# not a heading"),
        ("_emphasis_ and *bold*", "\\_emphasis\\_ and \\*bold\\*"),
    ],
)
def test_markdown_is_escaped_only_where_it_would_mean_something(raw: str, shown: str) -> None:
    assert str(md(raw)) == shown


def test_long_evidence_is_shortened_at_a_word_boundary() -> None:
    text = "Rounding necessary after the currency conversion of the basket total " * 10
    short = str(md(text, 100))
    assert short.endswith("…") and len(short) <= 100
    assert text.startswith(short[:-1])
    assert text[len(short) - 1] == " "  # the cut is at a space, not mid-word
    assert str(md("x" * 500, 100)) == "x" * 99 + "…"  # one long token is cut where it must be


LLM_TOTALS = {
    "model_id": "us.amazon.nova-2-lite-v1:0",
    "prompt_version": "reason-abc123",
    "calls": 1,
    "input_tokens": 4210,
    "output_tokens": 380,
    "latency_seconds": 2.4,
    "cost_usd": 0.002213,
    "failure": None,
    "narrative": "The rollout of checkout:118 broke payments. " + HOSTILE,
    "disagreement": "The model ranks dependency payments first; the correlator ranks deploy checkout:118 first",
}


@pytest.mark.parametrize("render", [github_issue_body, servicenow_description])
def test_the_models_narrative_and_cost_are_shown_and_kept_inert(render: object) -> None:
    body = render(report(llm=LLM_TOTALS))  # type: ignore[operator]
    assert "The model's reading (LLM, untrusted)" in body
    assert "The rollout of checkout:118 broke payments." in body
    assert "Disagreement" in body and "correlator ranks deploy checkout:118 first" in body
    assert "4210 tokens in, 380 out" in body and "$0.0022" in body and "reason-abc123" in body
    # The narrative is untrusted text like any other: no line of it can start a command, no tag survives.
    assert not any(line.lstrip().startswith("/approve") for line in body.splitlines())
    if render is github_issue_body:
        assert "<img" not in body.replace("\\<img", "") and "@mpatel" not in body


def test_a_failed_call_shows_its_failure_and_no_narrative() -> None:
    failed = {"model_id": "m", "prompt_version": "reason-x", "calls": 1, "failure": "throttled", "cost_usd": None}
    body = github_issue_body(report(llm=failed))
    assert "failed: throttled" in body and "cost unknown" in body
    assert "Disagreement" not in body
    assert "The model's reading" not in github_issue_body(report())
