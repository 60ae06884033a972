"""`oncall-agent demo`: the sandbox, the daemon in this process, one alarm, and what the agent made of it.

For now the story ends at intake: the alarm reaches the agent twice (SNS webhook and DescribeAlarms poll), is
stored once and grouped into one incident. Investigation, tickets and approvals join as they land.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oncall_agent.daemon import Daemon
from oncall_agent.domain.incident import Incident
from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.world import SandboxWorld
from oncall_agent.settings import Settings

Say = Callable[[str], None]
REPO_SCENARIOS = Path(__file__).resolve().parents[2] / "tests" / "scenarios"
PACKAGED_SCENARIOS = Path(__file__).resolve().parents[1] / "_scenarios"
DEFAULT_SCENARIO = "ecs-bad-deploy.yaml"


def default_scenario() -> Path:
    """The shipped bad-deploy scenario: packaged with a wheel, or in the checkout for an editable install."""
    for folder in (PACKAGED_SCENARIOS, REPO_SCENARIOS):
        if (folder / DEFAULT_SCENARIO).is_file():
            return folder / DEFAULT_SCENARIO
    raise FileNotFoundError(f"shipped scenario {DEFAULT_SCENARIO} not found; pass --scenario FILE")


def _wait(check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return None


def _incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "service": incident.service,
        "status": incident.status.value,
        "alarms": [{"name": a.alarm_name, "state": a.state.value} for a in incident.alarms],
        "timeline": [{"at": e.at.isoformat(), "kind": e.kind, "message": e.message} for e in incident.timeline],
    }


def _run_agent(world: SandboxWorld, folder: Path, say: Say) -> dict[str, Any]:
    config = world.agent_config(
        store_url=f"sqlite:///{folder / 'oncall-agent.db'}", http_port=0, poll_interval_seconds=1.0
    )
    daemon = Daemon(Settings(**config))
    remembered = world.seed_history(daemon.components.store)
    say(f"agent memory: {remembered} past incident(s) from the scenario's history")
    url = daemon.start_in_thread()
    say(f"agent listening on {url} (webhooks, poller every 1 s, grouping)")
    try:
        alarm = world.scenario.incident_alarm
        fired = world.fire(deliver_to=f"{url}/webhooks/sns")
        say(f"alarm {alarm.name} -> ALARM at {fired.alarm.state_updated.isoformat()} (moto)")
        say(f"SNS delivery, signed by the sandbox: HTTP {fired.delivered_status}")
        store = daemon.components.store

        def grouped_twice() -> Incident | None:
            counts = store.event_counts()
            mine = [i for i in store.list_incidents() if alarm.name in {a.alarm_name for a in i.alarms}]
            return mine[0] if mine and counts["duplicates"] >= 1 and counts["ungrouped"] == 0 else None

        incident = _wait(grouped_twice, timeout=15)
        if incident is None:
            raise RuntimeError("the alarm did not become an incident within 15 s")
        counts = store.event_counts()
        say(f"poller saw the same state change: recorded as a duplicate ({counts['duplicates']} duplicate)")
        say(f"incident {incident.id} ({incident.status.value}) for service {incident.service}")
        for entry in incident.timeline:
            say(f"  {entry.at:%H:%M:%S}  {entry.kind:<10} {entry.message}")
        return {"incident": _incident_json(incident), "events": counts}
    finally:
        daemon.stop_thread()


def run_demo(scenario_path: Path | None, say: Say) -> dict[str, Any]:
    """Run the whole demo; returns the JSON summary. `say` prints progress."""
    path = scenario_path or default_scenario()
    scenario = load_scenario(path)
    say(f"scenario {scenario.id}: {scenario.title}")
    world = SandboxWorld(scenario)
    endpoints = world.start()
    try:
        say(
            f"sandbox up: moto {endpoints.aws}, GitHub {endpoints.github}, ServiceNow {endpoints.servicenow}, "
            f"CloudTrail {endpoints.cloudtrail}"
        )
        aws, standins = world.seed()
        say(
            f"seeded: {aws.alarms} alarms, {aws.metric_points} metric points, {aws.log_events} log lines, "
            f"{aws.task_definitions} task definitions, {len(standins.cloudtrail_event_ids)} CloudTrail events, "
            f"{standins.commits} commits, {standins.servicenow_records} ServiceNow records"
        )
        with tempfile.TemporaryDirectory(prefix="oncall-demo-") as tmp:
            result = _run_agent(world, Path(tmp), say)
    finally:
        world.stop()
    say("intake done: investigation, tickets and approvals arrive in the next milestone")
    return {"scenario": scenario.id, **result}
