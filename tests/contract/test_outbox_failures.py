"""A row that gives up is visible: an `outbox_row_failed` log event (error redacted), the Prometheus counter, an
`outbox_failed` timeline entry, and, when the ServiceNow incident was never created, an escalation entry and a
comment on the GitHub issue. `oncall-agent outbox list|retry` shows the row and queues it again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from oncall_agent.cli import app
from oncall_agent.coordination.relay import OutboxRelay
from oncall_agent.observability import IntakeMetrics
from oncall_agent.sandbox.standins import FaultRule
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.outbox import DELIVERED, FAILED, PENDING, SqlOutbox
from tests.contract.outbox_world import Trackers, ensure_items, marker, trackers, update_items
from tests.contract.store_fixtures import Clock, engine_with_incidents

pytestmark = pytest.mark.sandbox


@pytest.fixture
def world() -> Iterator[Trackers]:
    yield from trackers()


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    yield from engine_with_incidents(store_url)


def fail_servicenow_until_it_gives_up(world: Trackers, outbox: SqlOutbox, clock: Clock, metrics: IntakeMetrics) -> list:
    """ServiceNow refuses every request (503) until the ensure row gives up."""
    world.sn_faults.add(FaultRule(None, r"^/api/now/table/", status=503))
    relay = OutboxRelay(
        outbox,
        world.tickets(max_attempts=1),
        world.issues(),
        lambda _incident: None,
        on_failed=lambda target, operation: metrics.outbox_failed.labels(target, operation).inc(),
    )
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            relay.run_once()
            clock.at += timedelta(hours=1)
        relay.run_once()  # delivers the comment the failure queued for GitHub
    return logs


def test_a_failed_ticket_creation_is_logged_counted_on_the_timeline_and_escalated(
    world: Trackers, engine: Engine
) -> None:
    clock, metrics = Clock(), IntakeMetrics()
    outbox = SqlOutbox(engine, clock, max_attempts=2)
    outbox.enqueue(ensure_items("inc-1"))

    logs = fail_servicenow_until_it_gives_up(world, outbox, clock, metrics)

    (row,) = outbox.rows(FAILED)
    assert (row.operation, row.attempts) == ("servicenow.ensure_incident", 2)
    (event,) = [e for e in logs if e["event"] == "outbox_row_failed"]
    assert event["log_level"] == "error"
    assert (event["incident"], event["target"], event["operation"]) == ("inc-1", "servicenow", row.operation)
    assert "ServiceNow 503" in event["error"] and event["row_id"] == row.id
    sample = metrics.registry.get_sample_value(
        "oncall_outbox_failed_total", {"target": "servicenow", "operation": "servicenow.ensure_incident"}
    )
    assert sample == 1.0
    incident = SqlIncidentStore(engine).get_incident("inc-1")
    assert incident is not None
    kinds = [entry.kind for entry in incident.timeline]
    assert kinds.count("outbox_failed") == 1 and kinds.count("escalation") == 1
    (escalation,) = [entry for entry in incident.timeline if entry.kind == "escalation"]
    assert "ServiceNow incident was never created" in escalation.message
    assert escalation.data["outbox_id"] == row.id
    # the people on the GitHub issue hear of it
    (issue,) = world.gh_issues(marker("inc-1"))
    comments = [c.body for c in world.github.comments("acme/checkout", issue.number)]
    assert any("could not be created" in body for body in comments)


def test_a_failed_update_is_on_the_timeline_but_no_escalation(world: Trackers, engine: Engine) -> None:
    outbox = SqlOutbox(engine, Clock(), max_attempts=1)
    outbox.enqueue(update_items("inc-2", 0)[1:])  # a comment for an issue that never came
    OutboxRelay(outbox, None, world.issues(), lambda _incident: None).run_once()
    incident = SqlIncidentStore(engine).get_incident("inc-2")
    assert incident is not None
    assert [e.kind for e in incident.timeline if e.kind in ("outbox_failed", "escalation")] == ["outbox_failed"]
    assert "github.comment gave up after 1 attempt(s)" in incident.timeline[-1].message


def test_a_failed_issue_creation_escalates_without_servicenow(world: Trackers, engine: Engine) -> None:
    outbox = SqlOutbox(engine, Clock(), max_attempts=1)
    outbox.enqueue(ensure_items("inc-2")[1:])
    world.gh_faults.add(FaultRule("POST", r"/issues$", status=422))
    OutboxRelay(outbox, None, world.issues(), lambda _incident: None).run_once()
    incident = SqlIncidentStore(engine).get_incident("inc-2")
    assert incident is not None
    kinds = [entry.kind for entry in incident.timeline]
    assert kinds.count("outbox_failed") == 1 and kinds.count("escalation") == 1
    assert outbox.rows(PENDING) == []  # ServiceNow is not configured: nothing queued to tell it


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["outbox", *args, "--config", str(config)])
    return result.exit_code, result.output


def test_cli_lists_and_retries_failed_rows(world: Trackers, engine: Engine, store_url: str, tmp_path: Path) -> None:
    clock, metrics = Clock(), IntakeMetrics()
    outbox = SqlOutbox(engine, clock, max_attempts=2)
    outbox.enqueue(ensure_items("inc-1"))
    fail_servicenow_until_it_gives_up(world, outbox, clock, metrics)
    config = tmp_path / "oncall-agent.yaml"
    config.write_text(f"store: {{url: '{store_url}'}}\n")

    code, output = cli(config, "list", "--json")
    assert code == 0, output
    (failed,) = json.loads(output)
    assert (failed["status"], failed["operation"], failed["attempts"]) == (FAILED, "servicenow.ensure_incident", 2)
    code, output = cli(config, "list", "--status", "all")
    assert code == 0 and output.count("\n") == 3 and "delivered" in output  # the issue and the comment
    assert cli(config, "list", "--status", "stuck")[0] == 2

    assert cli(config, "retry")[0] == 2  # neither a row nor --all-failed
    code, output = cli(config, "retry", "99999")
    assert code == 1 and "no outbox row 99999" in output
    delivered = next(r for r in outbox.rows(DELIVERED))
    code, output = cli(config, "retry", str(delivered.id))
    assert code == 1 and "already delivered" in output

    code, output = cli(config, "retry", str(failed["id"]), "--json")
    assert code == 0, output
    assert [(r["id"], r["status"], r["attempts"]) for r in json.loads(output)] == [(failed["id"], PENDING, 0)]
    assert cli(config, "list")[1].strip() == "no failed outbox rows"

    world.sn_faults.clear()  # ServiceNow is back: the requeued row creates the ticket
    clock.at = datetime.now(UTC)  # the CLI made it due at the real time
    relay = OutboxRelay(outbox, world.tickets(), None, lambda _incident: None)
    assert relay.run_once() == 3  # the ticket, then the cross-links it now completes (GitHub's: skipped here)
    (ticket,) = world.sn_incidents("inc-1")
    assert "GitHub issue: acme/checkout#1 http" in ticket["description"]
    assert cli(config, "retry", "--all-failed")[1].strip() == "queued 0 row(s) again: none failed"
