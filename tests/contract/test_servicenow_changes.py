"""Change requests that decide an action, against the ServiceNow stand-in: opened once per correlation id (a
retried create after a 503 that committed finds the first), linked to the incident as parent, and read back
after a person approves, rejects or cancels it with their own credentials (PATCH, as the UI's form does)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from oncall_agent.adapters.servicenow import ServiceNowTracker
from oncall_agent.sandbox.standins import BackgroundServer, FaultInjector, ServiceNowState, create_servicenow_app
from tests.contract.test_servicenow_adapter import CommitThenFail

pytestmark = pytest.mark.sandbox

USER, PASSWORD = "oncall-agent", "agent-pw"
APPROVER, APPROVER_PASSWORD = "cab.manager", "cab-pw"


def serve(wrap: bool) -> Iterator[tuple[ServiceNowState, str]]:
    state = ServiceNowState()
    app = create_servicenow_app(state, FaultInjector(), USER, PASSWORD, {APPROVER: APPROVER_PASSWORD})
    server = BackgroundServer(CommitThenFail(app, "POST", r"^/api/now/table/change_request$") if wrap else app)
    yield state, server.start()
    server.stop()


@pytest.fixture
def world() -> Iterator[tuple[ServiceNowState, str]]:
    yield from serve(wrap=False)


@pytest.fixture
def flaky_world() -> Iterator[tuple[ServiceNowState, str]]:
    yield from serve(wrap=True)


def tracker(base: str) -> ServiceNowTracker:
    return ServiceNowTracker(base, USER, PASSWORD, backoff_base=0.001, max_attempts=3, sleep=lambda _s: None)


def person_patch(base: str, sys_id: str, fields: dict[str, str], password: str = APPROVER_PASSWORD) -> int:
    answer = requests.patch(
        f"{base}/api/now/table/change_request/{sys_id}", json=fields, auth=(APPROVER, password), timeout=10
    )
    return answer.status_code


@pytest.mark.parametrize(
    ("fields", "approval", "state"),
    [
        ({"approval": "approved"}, "approved", "-5"),
        ({"approval": "rejected"}, "rejected", "-5"),
        ({"state": "4"}, "requested", "4"),
    ],
)
def test_a_change_opened_once_and_read_back_after_a_person_decides(
    world: tuple[ServiceNowState, str], fields: dict[str, str], approval: str, state: str
) -> None:
    servicenow, base = world
    incident = servicenow.add_record("incident", {"short_description": "checkout 5xx"})
    sn = tracker(base)
    ref = sn.ensure_change("inc-1:act-1", "rollback checkout", "digest abc", incident["sys_id"])
    assert sn.ensure_change("inc-1:act-1", "rollback checkout", "digest abc", incident["sys_id"]) == ref
    record = servicenow.get("change_request", ref.system_id)
    assert record is not None and record["type"] == "normal" and record["parent"] == incident["sys_id"]
    assert ref.number.startswith("CHG")

    before = sn.change_status(ref.system_id)
    assert (before.approval, before.updated_by) == ("requested", USER)
    assert person_patch(base, ref.system_id, fields, password="wrong") == 401
    assert person_patch(base, ref.system_id, fields) == 200
    after = sn.change_status(ref.system_id)
    assert (after.approval, after.state, after.updated_by) == (approval, state, APPROVER)
    assert after.number == ref.number and after.updated_on


def test_a_create_whose_answer_was_lost_is_found_not_repeated(flaky_world: tuple[ServiceNowState, str]) -> None:
    servicenow, base = flaky_world
    ref = tracker(base).ensure_change("inc-2:act-2", "scale", "d", None)
    changes = [r for r in servicenow.records("change_request") if r.get("correlation_id") == "inc-2:act-2"]
    assert [r["sys_id"] for r in changes] == [ref.system_id]
