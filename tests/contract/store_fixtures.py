"""What the store contract suites share: a settable clock and a migrated database holding two open incidents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from oncall_agent.store.engine import make_engine
from oncall_agent.store.migrate import upgrade
from oncall_agent.store.tables import incidents

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


def engine_with_incidents(store_url: str, links: dict[str, Any] | None = None) -> Iterator[Engine]:
    """A migrated store with incidents inc-1 and inc-2 (investigating, opened at T0), disposed afterwards."""
    upgrade(store_url)
    engine = make_engine(store_url)
    with engine.begin() as connection:
        for incident_id in ("inc-1", "inc-2"):
            connection.execute(
                sa.insert(incidents).values(
                    id=incident_id,
                    fingerprint=incident_id,
                    service="checkout",
                    status="investigating",
                    first_event_at=T0,
                    last_event_at=T0,
                    opened_at=T0,
                    updated_at=T0,
                    links=links or {},
                )
            )
    yield engine
    engine.dispose()
