"""Lock order on PostgreSQL: every outbox transaction that touches both an outbox row and its incident locks the
incident first.

The deadlock this guards against was seen in CI: one replica marked a cross-link row delivered (outbox row
updated, then waiting for the incident row) while another, holding the incident row, re-queued the same
cross-link keys (`ON CONFLICT DO NOTHING` waits for whoever updated the colliding row). Here the second
transaction is played by hand on its own connection, holding the incident lock first, and the outbox writes run
in a thread meanwhile; with the incident locked first they simply wait their turn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from oncall_agent.bootstrap import SystemClock
from oncall_agent.store.engine import make_engine
from oncall_agent.store.migrate import upgrade
from oncall_agent.store.outbox import DELIVERED, FAILED, OutboxItem, SqlOutbox, enqueue
from oncall_agent.store.tables import incidents, outbox
from tests.contract.outbox_world import add_incidents

pytestmark = [pytest.mark.postgres]

LINK = OutboxItem("inc-lo:link:github", "inc-lo", "github", "github.link", {"prefix": "p", "line": "l"})


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    upgrade(pg_url)
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def _row_id(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(outbox.c.id).where(outbox.c.key == LINK.key)).scalar_one())


def _race(engine: Engine, write: Callable[[], object]) -> list[BaseException]:
    """Run `write` in a thread while another transaction holds the incident row and then re-queues the link
    key; returns what either side raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            write()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    with engine.begin() as holder:
        holder.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
        holder.execute(sa.select(incidents.c.id).where(incidents.c.id == "inc-lo").with_for_update())
        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.5)  # the writer is now waiting: for the incident (right) or, holding the row, for it (wrong)
        try:
            enqueue(holder, [LINK], SystemClock().now())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
    thread.join(timeout=30)
    return errors


@pytest.mark.parametrize("outcome", ["delivered", "retry_gives_up", "failed"])
def test_outbox_writes_wait_for_the_incident_before_locking_their_row(engine: Engine, outcome: str) -> None:
    add_incidents(engine, ["inc-lo"])
    box = SqlOutbox(engine, SystemClock(), max_attempts=1)
    box.enqueue([LINK])
    row_id = _row_id(engine)
    write = {
        "delivered": lambda: box.mark_delivered(row_id, {"ok": True}),
        "retry_gives_up": lambda: box.mark_retry(row_id, "boom", backoff=timedelta(seconds=1)),
        "failed": lambda: box.mark_failed(row_id, "boom"),
    }[outcome]
    errors = _race(engine, write)
    assert not errors, errors
    (row,) = box.for_incident("inc-lo")
    assert row.status == (DELIVERED if outcome == "delivered" else FAILED)
