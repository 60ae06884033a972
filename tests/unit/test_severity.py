"""Severity is derived from the environment tag, the kind of alarm and the blast radius in the catalog."""

from __future__ import annotations

import pytest

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.severity import alarm_kind, dependents, derive, priority


def svc(name: str, env: str | None = "prod", depends_on: list[str] | None = None) -> Service:
    return Service(name=name, tags={"env": env} if env else {}, depends_on=depends_on or [])


CATALOG = [
    svc("checkout", depends_on=["payments", "inventory"]),
    svc("payments", depends_on=["ledger"]),
    svc("inventory"),
    svc("ledger"),
    svc("reports", env="staging", depends_on=["ledger"]),
]


def test_blast_radius_counts_services_that_depend_directly_or_not() -> None:
    assert dependents("ledger", CATALOG) == ["checkout", "payments", "reports"]
    assert dependents("payments", CATALOG) == ["checkout"]
    assert dependents("checkout", CATALOG) == []


@pytest.mark.parametrize(
    ("alarm", "metric", "kind"),
    [
        ("checkout-alb-5xx", "HTTPCode_Target_5XX_Count", "errors"),
        ("orders-lambda", "Errors", "errors"),
        ("checkout-p99", "TargetResponseTime", "latency"),
        ("cpu-high", "CPUUtilization", "other"),
    ],
)
def test_the_kind_of_alarm_comes_from_its_names(alarm: str, metric: str, kind: str) -> None:
    assert alarm_kind(alarm, metric) == kind


def test_a_production_5xx_is_urgent_and_its_priority_is_high_not_5() -> None:
    found = derive(CATALOG[0], CATALOG, "checkout-alb-5xx")
    assert (found.impact, found.urgency, found.priority, found.level) == (2, 1, 2, "sev2")
    assert "production" in found.describe() and "0 dependent services" in found.describe()


def test_a_shared_production_dependency_is_critical() -> None:
    found = derive(CATALOG[3], CATALOG, "ledger-errors")
    assert (found.impact, found.urgency, found.priority) == (1, 1, 1)
    assert found.level == "sev1"


def test_staging_latency_is_low() -> None:
    found = derive(CATALOG[4], CATALOG, "reports-latency")
    assert (found.impact, found.urgency, found.priority, found.level) == (3, 3, 5, "sev4")


def test_the_alarm_tag_names_the_environment_when_the_catalog_does_not() -> None:
    untagged = svc("loose", env=None)
    assert derive(untagged, [untagged], "loose-5xx", alarm_tags={"Environment": "x", "env": "production"}).urgency == 1
    assert "environment unknown" in derive(untagged, [untagged], "loose-5xx").describe()


def test_priority_follows_servicenows_lookup_and_refuses_out_of_range_values() -> None:
    assert [priority(1, 1), priority(1, 3), priority(2, 2), priority(3, 3)] == [1, 3, 3, 5]
    with pytest.raises(ValueError, match="impact and urgency"):
        priority(0, 2)
