"""What the investigation queues for the trackers: tickets that say the current status, severity and a summary,
link the console, and an escalation that assigns the team's group and people with impact/urgency."""

from __future__ import annotations

from typing import Any

from oncall_agent.coordination.messages import OutboxMessenger
from oncall_agent.domain.action import PolicyDecision
from oncall_agent.domain.catalog import Service
from tests.unit.test_render import ROLLBACK_PARAMS, action, evidence

CATALOG = [Service(name="checkout", repo="acme/checkout", tags={"team": "storefront", "env": "prod"})]
SEVERITY = {"level": "sev2", "impact": 2, "urgency": 1, "text": "sev2 (high: production, errors alarm)"}


def messenger(**options: Any) -> OutboxMessenger:
    return OutboxMessenger(CATALOG, None, servicenow=True, github=True, **options)


def view(*, waiting: bool) -> dict[str, Any]:
    policy = PolicyDecision.APPROVAL if waiting else PolicyDecision.AUTO
    rollback = action("ecs.rollback", ROLLBACK_PARAMS, policy, "act-aaaaaaaaaaaa")
    ev = evidence("deploy checkout:118 " + "then RoundingNecessary errors in the basket total " * 12)
    return {
        "scope": {
            "incident_id": "inc-1",
            "service": "checkout",
            "alarm_name": "checkout-alb-5xx",
            "onset": "2026-03-01T10:04:00+00:00",
            "severity": SEVERITY,
        },
        "hypotheses": [
            {"category": "deploy", "culprit": "checkout:118", "confidence": 0.86, "evidence_for": [ev.id]},
        ],
        "evidence": [ev.model_dump(mode="json")],
        "actions": [rollback.model_dump(mode="json")],
    }


def payloads(items: list[Any], operation: str) -> list[dict[str, Any]]:
    return [item.payload for item in items if item.operation == operation]


def test_the_opened_tickets_say_awaiting_approval_severity_and_a_summary() -> None:
    items = messenger(console_url="https://oncall.example").opened(view(waiting=True))
    (issue,) = payloads(items, "github.ensure_issue")
    (ticket,) = payloads(items, "servicenow.ensure_incident")
    for text in (issue["body"], ticket["description"]):
        assert "awaiting approval" in text and "investigating" not in text
        assert "sev2 (high" in text and "unknown" not in text
        assert "Alarm checkout-alb-5xx fired for checkout at 2026-03-01 10:04 UTC." in text
        assert "most likely cause is deploy (checkout:118), 86% confident" in text
        assert "https://oncall.example/incidents/inc-1" in text
    assert "[full text](https://oncall.example/incidents/inc-1)" in issue["body"]  # the evidence was shortened


def test_without_an_approval_to_wait_for_the_status_is_investigating_and_no_console_link() -> None:
    (issue,) = payloads(messenger().opened(view(waiting=False)), "github.ensure_issue")
    assert "**status** investigating" in issue["body"]
    assert "/incidents/" not in issue["body"] and "Waiting for someone" not in issue["body"]


def test_escalation_assigns_the_teams_group_and_people_with_impact_and_urgency() -> None:
    items = messenger(groups={"storefront": "Storefront On-Call"}, assignees={"storefront": ["dana"]}).escalated(
        "inc-1", "storefront", SEVERITY
    )
    assert payloads(items, "servicenow.escalate") == [
        {"assignment_group": "Storefront On-Call", "impact": 2, "urgency": 1}
    ]
    assert payloads(items, "github.assign") == [{"assignees": ["dana"]}]
    assert len({item.key for item in items}) == len(items)


def test_an_unmapped_team_still_raises_the_ticket_but_assigns_nobody() -> None:
    items = messenger().escalated("inc-1", "nobody-mapped", None)
    assert payloads(items, "servicenow.escalate") == [{"assignment_group": None, "impact": 2, "urgency": 2}]
    assert payloads(items, "github.assign") == []
