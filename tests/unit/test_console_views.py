"""The console's wording: humane ages, hypotheses in plain words, tracker links, evidence grouped by kind (kinds
this code does not know, such as `looked_at`, shown generically)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oncall_agent.web.console_views import age, hypothesis_words, looked_at, model_reading, tickets

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def test_ages_read_like_a_person_would_say_them() -> None:
    ages = [age(NOW - timedelta(seconds=s), NOW) for s in (5, 125, 2 * 3600, 7199, 2 * 86400 + 5000)]
    assert ages == ["5 s", "2 min", "2 h", "1 h 59 min", "2 d"]
    assert age(None, NOW) == ""


def test_hypotheses_in_plain_words() -> None:
    deploy = {"category": "deploy", "culprit": "checkout:118", "confidence": 0.934}
    assert hypothesis_words(deploy) == "a deploy (checkout:118), 93% confident"
    assert hypothesis_words({"category": "unknown", "culprit": None, "confidence": 1.0}) == "no confident cause"
    assert hypothesis_words({"category": "cosmic_ray", "confidence": 0.1}) == "cosmic ray, 10% confident"


def test_tickets_link_the_records_not_the_stored_keys() -> None:
    links = {
        "servicenow_sys_id": "1ab4",
        "servicenow_number": "INC0010003",
        "servicenow_link": "https://sn.example/incident.do?sys_id=1ab4",
        "github_repo": "acme/checkout",
        "github_issue": 2303,
        "github_link": "https://github.example/acme/checkout/issues/2303",
        "pagerduty_link": "https://pd.example/i/9",
    }
    assert [(t["label"], t["text"]) for t in tickets(links)] == [
        ("ServiceNow", "INC0010003"),
        ("GitHub issue", "acme/checkout#2303"),
        ("pagerduty", "https://pd.example/i/9"),
    ]


def test_uncited_evidence_is_grouped_by_kind_with_the_neighbourhood_first() -> None:
    items = [
        {"id": "a", "kind": "deploy", "summary": "cited"},
        {"id": "b", "kind": "deploy", "summary": "another deploy"},
        {"id": "c", "kind": "gap", "summary": "logs cut"},
        {"id": "d", "kind": "looked_at", "summary": "payments: no change"},
        {"id": "e", "kind": "queue_depth", "summary": "new kind"},
    ]
    groups = looked_at(items, cited={"a"})
    assert [(g["label"], [i["id"] for i in g["items"]]) for g in groups] == [
        ("Neighbourhood looked at", ["d"]),
        ("Deploys", ["b"]),
        ("Queue depth", ["e"]),
    ]


def test_the_models_reading_shows_narrative_disagreement_and_cost() -> None:
    assert model_reading(None) is None
    shown = model_reading(
        {
            "model_id": "m",
            "prompt_version": "reason-1",
            "calls": 2,
            "input_tokens": 10,
            "output_tokens": 5,
            "latency_seconds": 1.25,
            "cost_usd": 0.5,
            "narrative": "It was the pool.",
            "disagreement": None,
        }
    )
    assert shown == {
        "narrative": "It was the pool.",
        "disagreement": "",
        "usage": "m (reason-1): 2 call(s), 10 tokens in, 5 out, 1.2 s, $0.5000",
    }
