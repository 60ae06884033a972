"""The symptom taxonomy (`symptom_classes.yaml`): every class recognises real messages of widely used clients and
servers (tests/unit/data/symptom_messages.yaml, each cited from its source), as raw lines and as the drain3
templates the correlator mines from them, and lines that only mention a timeout setting or a healthy TLS session
match no class. Malformed class files fail with an error naming the class."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from oncall_agent.domain.evidence import Category
from oncall_agent.domain.records import LogRecord
from oncall_agent.investigation.correlate import taxonomy
from oncall_agent.investigation.correlate.signatures import mine

DATA = Path(__file__).parent / "data" / "symptom_messages.yaml"
MESSAGES: list[dict[str, Any]] = yaml.safe_load(DATA.read_text(encoding="utf-8"))["messages"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _template(message: str) -> str:
    """The drain3 template the correlator would mine from this one line (masks applied)."""
    records = [LogRecord(at=T0 + timedelta(minutes=1), group="/app", message=message)]
    (signature,) = mine(records, split=T0)
    return signature.template


def _id(entry: dict[str, Any]) -> str:
    return f"{entry['class']}: {entry['message'][:60]}"


@pytest.mark.parametrize("entry", MESSAGES, ids=[_id(e) for e in MESSAGES])
def test_real_messages_are_recognised_as_their_class(entry: dict[str, Any]) -> None:
    assert entry.get("source"), "every test message cites its source"
    for text in (entry["message"], _template(entry["message"])):
        found = taxonomy.primary(text)
        assert (found.name if found else None) == entry["class"], text


def test_the_data_covers_every_class_with_real_messages_and_negatives() -> None:
    counts: dict[str | None, int] = {}
    for entry in MESSAGES:
        counts[entry["class"]] = counts.get(entry["class"], 0) + 1
    assert {c.name for c in taxonomy.classes()} <= set(counts), "each class has at least one real message"
    assert sum(n for name, n in counts.items() if name) >= 80
    assert counts[None] >= 10  # negatives


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # A pool wait that timed out is pool exhaustion first and a timeout as well.
        (
            "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
            ["connection_pool_exhaustion", "timeout"],
        ),
        ("x509: certificate has expired or is not yet valid", ["certificate_expired"]),
        (
            "rpc error: code = Unavailable desc = connection error: connect: connection refused",
            ["connection_refused", "dependency_unavailable"],
        ),
    ],
)
def test_a_line_matches_every_class_it_states(line: str, expected: list[str]) -> None:
    assert [c.name for c in taxonomy.matching(line)] == expected


def test_classes_say_what_they_suggest() -> None:
    assert taxonomy.by_name("timeout").category is None  # a timeout alone says nothing about the cause
    assert taxonomy.by_name("certificate_untrusted").category is Category.CREDENTIAL_EXPIRY
    assert taxonomy.by_name("dependency_capacity_refusal").names_peer
    assert not taxonomy.by_name("memory_exhaustion").names_peer
    strongest = taxonomy.strongest(
        ["HikariPool-1 - Connection is not available", "java.lang.OutOfMemoryError"], "exhaustion"
    )
    assert strongest is not None and strongest.name == "memory_exhaustion"
    assert taxonomy.strongest(["GET /cart 200"], "credential") is None


def _raw(**changes: Any) -> dict[str, Any]:
    base = {
        "name": "x",
        "family": "call_failure",
        "kind": "x",
        "strength": 0.5,
        "category": None,
        "names_peer": True,
        "patterns": ["boom"],
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_raw(family="weather"), "family 'weather'"),
        (_raw(strength=1.5), "strength 1.5"),
        (_raw(category="gremlins"), "unknown category 'gremlins'"),
        (_raw(patterns=["(unclosed"]), "bad pattern"),
        (_raw(patterns=[]), "non-empty list"),
        ({**_raw(), "colour": "red"}, "unknown fields ['colour']"),
        (_raw(before_peer="yes"), "before_peer must be true or false"),
        (_raw(reported_as=["(unclosed"]), "bad pattern"),
    ],
)
def test_a_malformed_class_is_an_error_naming_it(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(taxonomy.TaxonomyError, match=r"symptom class 'x'") as caught:
        taxonomy.parse({"classes": [raw]})
    assert message in str(caught.value)


def test_optional_fields_say_how_providers_report_a_class_and_whether_the_call_reached_its_peer() -> None:
    plain = taxonomy.parse_class(_raw())
    assert plain.reported_as == () and not plain.before_peer and not plain.reported_in("boom everywhere")
    dns = taxonomy.by_name("dns_failure")
    assert dns.before_peer and not taxonomy.by_name("connection_refused").before_peer
    assert dns.reported_in("We are investigating DNS resolution failures for queries from EC2 instances")
    assert dns.reported_in("Increased error rates resolving host names in the Route 53 Resolver")
    assert not dns.reported_in("We are investigating increased API error rates for RunInstances")


def test_class_names_are_unique() -> None:
    with pytest.raises(taxonomy.TaxonomyError, match="more than once"):
        taxonomy.parse({"classes": [_raw(), _raw()]})
