"""End to end: `oncall-agent serve` as its own process against the sandbox; one alarm reaches it twice.

The scenario's alarm fires in moto (the poller sees it) and is delivered signed over SNS (the webhook gets it):
exactly one event and one incident must exist, with the second delivery recorded as a duplicate. SIGTERM must
end the daemon cleanly with exit 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.sns_delivery import deliver_alarm
from oncall_agent.sandbox.world import SandboxWorld
from tests.e2e.harness import free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "ecs-bad-deploy.yaml"


def cli(config: Path, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "oncall_agent", *args, "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.fixture()
def world() -> Iterator[SandboxWorld]:
    sandbox = SandboxWorld(load_scenario(SCENARIO))
    sandbox.start()
    sandbox.seed()
    yield sandbox
    sandbox.stop()


@pytest.fixture()
def daemon(world: SandboxWorld, tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    port = free_port()
    config = tmp_path / "oncall-agent.yaml"
    settings = world.agent_config(
        store_url=f"sqlite:///{tmp_path / 'oncall.db'}", http_port=port, poll_interval_seconds=0.5
    )
    config.write_text(yaml.safe_dump(settings))
    process = subprocess.Popen(
        [sys.executable, "-m", "oncall_agent", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"serve exited early ({process.returncode}): {process.stderr.read() if process.stderr else ''}")
        try:
            return requests.get(f"{url}/readyz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(ready, "the daemon to be ready")
    yield url, config, process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_alarm_delivered_by_poller_and_sns_makes_one_incident(
    world: SandboxWorld, daemon: tuple[str, Path, subprocess.Popen[str]]
) -> None:
    url, config, process = daemon
    alarm = world.scenario.incident_alarm
    fired = world.fire(deliver_to=f"{url}/webhooks/sns")
    assert fired.delivered_status == 200

    def grouped_with_duplicate() -> list[dict[str, Any]] | None:
        # The poller runs every 0.5 s: either it stored the change first and SNS was the duplicate, or the
        # other way round. Wait until both deliveries have been seen and the event is grouped.
        alarm_rows = [r for r in _event_rows(config, alarm.name) if r["new_state"] == "ALARM"]
        if not alarm_rows or alarm_rows[0]["deliveries"] < 2 or alarm_rows[0]["incident_id"] is None:
            return None
        return cli(config, "incidents", "list")

    incidents = wait_for(grouped_with_duplicate, "the incident and the duplicate delivery")
    holding = [i for i in incidents if alarm.name in {a["name"] for a in i["alarms"]}]
    assert len(holding) == 1, incidents
    incident = holding[0]
    assert incident["service"] == alarm.service
    assert [a["name"] for a in incident["alarms"]] == [alarm.name]
    # Other alarms already in ALARM in the scenario get incidents of their own, but no alarm is in two.
    every_alarm = [a["name"] for i in incidents for a in i["alarms"]]
    assert len(every_alarm) == len(set(every_alarm))
    rows = _event_rows(config, alarm.name)
    alarm_rows = [r for r in rows if r["new_state"] == "ALARM"]
    assert len(alarm_rows) == 1, rows
    assert alarm_rows[0]["deliveries"] == 2
    shown = cli(config, "incidents", "show", incident["id"])
    assert shown["status"] in {"open", "investigating", "awaiting_approval"}  # the investigation runs on
    assert any(entry["kind"] == "alarm" for entry in shown["timeline"])

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    # Every line the daemon logs is JSON (the stdlib loggers of uvicorn and alembic included).
    logs = [json.loads(line) for line in (process.stderr.read() if process.stderr else "").splitlines() if line]
    assert any(entry.get("event") == "daemon_stopped" for entry in logs)
    assert not any("sandbox-password" in json.dumps(entry) for entry in logs)


def test_a_replayed_old_alarm_notification_opens_no_incident_when_the_alarm_is_ok(
    world: SandboxWorld, daemon: tuple[str, Path, subprocess.Popen[str]]
) -> None:
    """A validly signed notification of the scenario's alarm going to ALARM 30 days ago, replayed while the alarm is
    OK in CloudWatch: stored as received, grouped as outdated, no incident, the verdict counted."""
    url, config, _process = daemon
    alarm = world.scenario.incident_alarm
    item = world.client("cloudwatch").describe_alarms(AlarmNames=[alarm.name])["MetricAlarms"][0]
    assert item["StateValue"] != "ALARM"  # seeded, not fired
    replay = {**item, "StateValue": "ALARM", "StateUpdatedTimestamp": datetime.now(UTC) - timedelta(days=30)}
    replay.pop("StateTransitionedTimestamp", None)

    answer = deliver_alarm(world.signer, world.topic_arn, replay, f"{url}/webhooks/sns")
    assert answer.status_code == 200 and answer.json()["status"] == "stored"

    def outdated() -> bool:
        rows = [r for r in _event_rows(config, alarm.name) if r["channel"] == "sns"]
        return bool(rows) and rows[0]["grouping_outcome"] == "outdated"

    wait_for(outdated, "the old notification to be grouped")
    held = [a["name"] for i in cli(config, "incidents", "list") for a in i["alarms"]]
    assert alarm.name not in held
    metrics = requests.get(f"{url}/metrics", timeout=5).text
    assert 'oncall_old_events_total{verdict="not_in_state"} 1.0' in metrics


def _event_rows(config: Path, alarm_name: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    settings = yaml.safe_load(config.read_text())
    engine = sa.create_engine(settings["store"]["url"])
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT new_state, deliveries, channel, incident_id, grouping_outcome FROM alarm_events"
                    " WHERE alarm_name = :name"
                ),
                {"name": alarm_name},
            ).mappings()
            return [dict(row) for row in rows]
    finally:
        engine.dispose()
