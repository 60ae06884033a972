"""`incidents list` and `incidents show` for people: headers, alignment, plain words, humane times, no dicts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from oncall_agent.cli_render import describe_incident, duration, incident_table

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
FEATURES = {f"feature_{i}": i / 18 for i in range(18)}


def view() -> dict[str, object]:
    return {
        "id": "inc-1",
        "service": "checkout",
        "status": "awaiting_approval",
        "severity": "sev2",
        "title": "t",
        "first_event_at": "2026-03-01T10:00:00+00:00",
        "last_event_at": "2026-03-01T10:05:00+00:00",
        "alarms": [{"name": "checkout-alb-5xx", "state": "ALARM"}],
        "links": {"servicenow_number": "INC0010001", "github_repo": "acme/checkout", "github_issue": "7"},
        "hypotheses": [
            {
                "category": "deploy",
                "culprit": "checkout:118",
                "confidence": 0.8612,
                "summary": "5xx after rollout",
                "features": FEATURES,
                "evidence_for": ["ev-1"],
            }
        ],
        "evidence": [{"id": "ev-1", "kind": "deploy", "summary": "deploy checkout:118 by dana"}],
        "actions": [
            {
                "id": "act-1",
                "kind": "ecs.rollback",
                "parameters": {"cluster": "prod", "service": "checkout"},
                "policy": "approval",
                "status": "proposed",
                "decided_by": None,
                "decided_via": None,
                "approvers": "storefront",
                "digest": "a" * 64,
            }
        ],
        "timeline": [{"at": "2026-03-01T10:00:01.123456+00:00", "kind": "status", "message": "investigation started"}],
    }


@pytest.mark.parametrize(
    ("seconds", "text"), [(5, "5 s"), (600, "10 min"), (172_804.8, "2 days 0 h"), (7500, "2 h 05 min")]
)
def test_durations_are_humane(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_the_list_is_an_aligned_table_with_headers() -> None:
    rows = [view(), {**view(), "id": "inc-22222", "service": "payments-api", "status": "resolved"}]
    lines = incident_table(rows, NOW)  # type: ignore[arg-type]
    assert lines[0].split() == ["INCIDENT", "STATUS", "SEVERITY", "SERVICE", "STARTED", "ALARMS"]
    assert set(lines[1]) <= {"-", " "}
    column = lines[0].index("SERVICE")
    assert lines[2][column:].startswith("checkout") and lines[3][column:].startswith("payments-api")
    assert "waiting for approval" in lines[2] and "2 days 0 h ago" in lines[2]
    assert incident_table([], NOW) == ["no incidents"]


def test_show_is_sections_in_plain_words_without_dicts_codes_or_feature_numbers() -> None:
    text = "\n".join(describe_incident(view(), NOW))
    for section in ("Alarms", "Likely causes", "Actions", "Timeline"):
        assert f"\n{section}\n" in text
    assert "waiting for approval" in text and "awaiting_approval" not in text
    assert "deploy (checkout:118), 86% confident" in text and "0.8612" not in text
    assert "feature_" not in text and "{" not in text
    assert "needs approval" in text and "oncall-agent approve act-1 --as NAME" in text
    assert "2026-03-01 10:00:01 UTC  investigation started" in text
    assert not re.search(r"\d+\.\d{2} min", text)


def test_show_has_the_models_reading_and_cost_when_it_ran() -> None:
    totals = {
        "model_id": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "prompt_version": "reason-abc",
        "calls": 1,
        "input_tokens": 5000,
        "output_tokens": 420,
        "latency_seconds": 3.2,
        "cost_usd": 0.0071,
        "narrative": "Connections\nran out after the deploy.",
        "disagreement": None,
    }
    text = "\n".join(describe_incident({**view(), "llm": totals}, NOW))
    assert "The model's reading (LLM)\n  Connections ran out after the deploy." in text
    assert "1 call(s), 5000 tokens in, 420 out, 3.2 s, $0.0071" in text
    assert "Disagreement" not in text
    assert "The model's reading" not in "\n".join(describe_incident(view(), NOW))
