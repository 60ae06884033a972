"""`oncall-agent sandbox up`: run the sandbox in the foreground until SIGINT/SIGTERM, printing how to use it."""

from __future__ import annotations

import secrets
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.world import SandboxWorld
from oncall_agent.store.engine import make_engine
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.migrate import upgrade

OPERATOR = "sandbox-operator"


def operator_config(config: dict[str, Any], token: str, console_url: str) -> dict[str, Any]:
    """The config plus an approver who may decide for every team of the catalog (and `oncall`, for untagged
    services), and the console's URL for the tickets' links."""
    teams = sorted({str(s["tags"]["team"]) for s in config.get("services", []) if s.get("tags", {}).get("team")})
    return {
        **config,
        "approvals": {"approvers": {OPERATOR: {"token": token, "groups": [*teams, "oncall"]}}},
        "console": {"base_url": console_url},
    }


def run_sandbox(
    scenario_path: Path,
    *,
    store_url: str,
    port: int,
    latency_ms: int,
    write_config: Path | None,
    say: Callable[[str], None],
) -> None:
    world = SandboxWorld(load_scenario(scenario_path), latency_ms=latency_ms)
    endpoints = world.start()
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        world.seed()
        world.start_reacting()  # a rollback the agent carries out takes the culprit out of service, as in `demo`
        store = SqlIncidentStore(make_engine(store_url))
        upgrade(store_url)
        say(f"# {world.seed_history(store)} past incident(s) written to {store_url}")
        store.engine.dispose()
        token, console = secrets.token_urlsafe(24), f"http://127.0.0.1:{port}"
        settings = operator_config(world.agent_config(store_url=store_url, http_port=port), token, console)
        config = yaml.safe_dump(settings, sort_keys=False)
        if write_config is not None:
            write_config.write_text(config)
        say(f"# sandbox for scenario {world.scenario.id}")
        for name, url in vars(endpoints).items():
            say(f"#   {name:<11} {url}")
        say(
            f"# fire the alarm:  curl -X POST {endpoints.control}/_sandbox/fire -H 'content-type: application/json' "
            f'-d \'{{"deliver_to": "http://127.0.0.1:{port}/webhooks/sns"}}\''
        )
        say(f"# console:     {console}/ (once `oncall-agent serve` runs)")
        say(f"# approver:    {OPERATOR}, token {token}")
        say(f"# approve:     curl -X POST {console}/api/actions/ACTION_ID/approve -H 'authorization: Bearer {token}'")
        say("# agent config (oncall-agent serve --config FILE):")
        say(config)
        stop.wait()
    finally:
        world.stop()
