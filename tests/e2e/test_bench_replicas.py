"""The scale benchmark (oncall_agent.bench.replicas) on a small load, so that it keeps working: two `serve`
replicas on a fresh PostgreSQL, 120 signed alarms plus redeliveries, nothing lost, stored twice or opened twice."""

from __future__ import annotations

import pytest

from oncall_agent.bench.replicas import run
from tests.conftest import PG_ADMIN_URL

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]


def test_two_replicas_take_every_alarm_once_and_open_one_incident_per_service() -> None:
    result = run(count=120, replicas=2, senders=4, services=5, duplicates=0.25, pg=PG_ADMIN_URL)
    assert result["accepted"] == result["messages"] == 150
    assert (result["lost"], result["stored_twice"], result["ungrouped_left"]) == (0, 0, 0)
    assert result["duplicates_recorded"] == 30
    # every third alarm is an OK; with 5 services (coprime with 3) each service has alarms
    assert (result["incidents_created"], result["duplicate_incidents"]) == (5, 0)
    assert result["exit_codes"] == [0, 0]
