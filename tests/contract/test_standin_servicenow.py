"""The ServiceNow Table API stand-in, exercised only through `requests` (what the adapter uses)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from oncall_agent.sandbox.standins import (
    BackgroundServer,
    FaultInjector,
    FaultRule,
    ServiceNowState,
    create_servicenow_app,
)

pytestmark = pytest.mark.sandbox

AUTH = ("oncall-agent", "s3cret")


@dataclass
class World:
    state: ServiceNowState
    faults: FaultInjector
    base_url: str
    session: requests.Session

    def table(self, name: str, sys_id: str = "") -> str:
        return f"{self.base_url}/api/now/table/{name}" + (f"/{sys_id}" if sys_id else "")

    def query(self, table: str, query: str, **params: Any) -> list[dict[str, Any]]:
        response = self.session.get(self.table(table), params={"sysparm_query": query, **params}, timeout=5)
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()["result"]
        return result


def seed(state: ServiceNowState) -> None:
    changes = [
        ("CHG0031042", "checkout-service", "2026-03-01 10:30:00", "Rotate DB password"),
        ("CHG0031043", "checkout-service", "2026-03-01 06:00:00", "Old change"),
        ("CHG0031044", "payments-service", "2026-03-01 10:45:00", "Other CI"),
        ("CHG0031045", "checkout-service", "2026-03-01 11:15:00", "Cache flush"),
    ]
    for number, ci, start, text in changes:
        fields = {"number": number, "cmdb_ci": ci, "start_date": start, "short_description": text}
        state.add_record("change_request", {**fields, "state": "-1"})


@pytest.fixture
def world() -> Iterator[World]:
    state, faults = ServiceNowState(), FaultInjector()
    seed(state)
    server = BackgroundServer(create_servicenow_app(state, faults, *AUTH), faults=faults)
    session = requests.Session()
    session.auth = AUTH
    session.headers.update({"Accept": "application/json"})
    yield World(state, faults, server.start(), session)
    session.close()
    server.stop()


def test_changes_on_a_ci_in_a_window(world: World) -> None:
    query = (
        "cmdb_ci=checkout-service^start_date>=2026-03-01 10:00:00^start_date<=2026-03-01 12:00:00^ORDERBYDESCstart_date"
    )

    found = world.query("change_request", query, sysparm_fields="number,start_date,short_description")

    assert [row["number"] for row in found] == ["CHG0031045", "CHG0031042"]
    assert set(found[0]) == {"number", "start_date", "short_description"}


def test_date_generate_or_and_like_operators(world: World) -> None:
    window = "start_date>=javascript:gs.dateGenerate('2026-03-01','10:40:00')"
    assert [r["number"] for r in world.query("change_request", f"{window}^ORDERBYnumber")] == [
        "CHG0031044",
        "CHG0031045",
    ]
    either = "short_descriptionLIKEpassword^ORshort_descriptionSTARTSWITHcache^ORDERBYnumber"
    assert [r["number"] for r in world.query("change_request", either)] == ["CHG0031042", "CHG0031045"]
    assert world.query("change_request", "no_such_operator_here") == []


def test_limit_offset_and_total_count(world: World) -> None:
    params: dict[str, str | int] = {"sysparm_query": "ORDERBYnumber", "sysparm_limit": 2, "sysparm_offset": 2}
    response = world.session.get(world.table("change_request"), params=params, timeout=5)

    assert response.headers["X-Total-Count"] == "4"
    assert [r["number"] for r in response.json()["result"]] == ["CHG0031044", "CHG0031045"]
    assert 'rel="first"' in response.headers["Link"]


def test_incident_find_or_create_by_correlation_id(world: World) -> None:
    assert world.query("incident", "correlation_id=inc-7f3a") == []

    created = world.session.post(
        world.table("incident"),
        json={"short_description": "checkout 5xx", "correlation_id": "inc-7f3a", "cmdb_ci": "checkout-service"},
        timeout=5,
    )
    found = world.query("incident", "correlation_id=inc-7f3a")

    assert created.status_code == 201
    record = created.json()["result"]
    assert record["number"] == "INC0010001" and len(record["sys_id"]) == 32
    assert record["state"] == "1" and record["sys_created_on"][10] == " "
    assert [row["sys_id"] for row in found] == [record["sys_id"]]
    assert found[0]["correlation_id"] == "inc-7f3a"


def test_work_notes_are_a_journal_and_resolve_needs_resolution_fields(world: World) -> None:
    created = world.session.post(world.table("incident"), json={"short_description": "x"}, timeout=5)
    sys_id = created.json()["result"]["sys_id"]
    url = world.table("incident", sys_id)

    for note in ("Hypothesis: deploy checkout:42", "Rolled back to checkout:41"):
        assert world.session.patch(url, json={"work_notes": note}, timeout=5).status_code == 200
    refused = world.session.patch(url, json={"state": "6"}, timeout=5)
    resolved = world.session.patch(
        url,
        json={"state": "6", "close_code": "Solved (Permanently)", "close_notes": "Rolled back", "work_notes": "done"},
        timeout=5,
    )
    record = world.session.get(url, timeout=5).json()["result"]
    journal = world.query("sys_journal_field", f"element_id={sys_id}^element=work_notes^ORDERBYsys_created_on")

    assert refused.status_code == 403
    assert refused.json()["status"] == "failure" and "mandatory" in refused.json()["error"]["detail"]
    assert resolved.status_code == 200
    assert record["state"] == "6" and record["resolved_at"] and record["close_notes"] == "Rolled back"
    assert record["work_notes"] == ""
    expected = ["Hypothesis: deploy checkout:42", "Rolled back to checkout:41", "done"]
    assert world.state.work_notes_history("incident", sys_id) == expected
    assert [entry["value"] for entry in journal] == expected
    assert record["sys_mod_count"] == "3"


def test_auth_is_required(world: World) -> None:
    anonymous = requests.get(world.table("incident"), timeout=5)
    wrong = requests.get(world.table("incident"), auth=("oncall-agent", "nope"), timeout=5)

    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.json() == {
        "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
        "status": "failure",
    }


def test_missing_record_and_table_errors(world: World) -> None:
    missing = world.session.get(world.table("incident", "0" * 32), timeout=5)
    bad_table = world.session.get(world.table("no_such_table"), timeout=5)
    bad_body = world.session.post(world.table("incident"), data="not json", timeout=5)

    assert missing.status_code == 404 and missing.json()["error"]["message"] == "No Record found"
    assert bad_table.status_code == 400 and bad_table.json()["status"] == "failure"
    assert bad_body.status_code == 400


def test_injected_429_with_retry_after_then_success(world: World) -> None:
    world.faults.add(FaultRule("GET", r"/table/change_request$", status=429, retry_after=2, times=1))

    first = world.session.get(world.table("change_request"), timeout=5)
    second = world.session.get(world.table("change_request"), timeout=5)

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    assert first.json()["status"] == "failure"
    assert second.status_code == 200 and len(second.json()["result"]) == 4


def test_faults_through_the_admin_endpoints(world: World) -> None:
    rule = {"method": "POST", "path_regex": "/table/incident$", "status": 503, "times": 2}
    assert requests.post(f"{world.base_url}/_sandbox/faults", json=rule, timeout=5).status_code == 201

    statuses = [
        world.session.post(world.table("incident"), json={"short_description": "x"}, timeout=5).status_code
        for _ in range(3)
    ]
    log = requests.get(f"{world.base_url}/_sandbox/requests", timeout=5).json()

    assert statuses == [503, 503, 201]
    assert [(entry["method"], entry["status"]) for entry in log] == [("POST", 503), ("POST", 503), ("POST", 201)]
    assert len(world.state.records("incident")) == 1
    assert requests.delete(f"{world.base_url}/_sandbox/faults", timeout=5).status_code == 204
    bad = requests.post(f"{world.base_url}/_sandbox/faults", json={"path_regex": "("}, timeout=5)
    assert bad.status_code == 400


def test_latency_rule_delays_the_answer(world: World) -> None:
    world.faults.add(FaultRule("GET", r"/table/change_request$", latency_ms=300))

    started = time.monotonic()
    response = world.session.get(world.table("change_request"), timeout=5)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed >= 0.3


def test_timeout_rule_holds_the_request_past_the_client_timeout(world: World) -> None:
    world.faults.add(FaultRule("GET", r"/table/incident$", timeout=True, times=1))

    with pytest.raises(requests.exceptions.ReadTimeout):
        world.session.get(world.table("incident"), timeout=0.5)
    assert world.session.get(world.table("incident"), timeout=5).status_code == 200
