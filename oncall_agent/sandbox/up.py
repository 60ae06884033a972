"""`oncall-agent sandbox up`: run the sandbox in the foreground until SIGINT/SIGTERM, printing how to use it."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import yaml

from oncall_agent.sandbox.scenario import load_scenario
from oncall_agent.sandbox.world import SandboxWorld
from oncall_agent.store.engine import make_engine
from oncall_agent.store.incident_store import SqlIncidentStore
from oncall_agent.store.migrate import upgrade


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
        store = SqlIncidentStore(make_engine(store_url))
        upgrade(store_url)
        say(f"# {world.seed_history(store)} past incident(s) written to {store_url}")
        store.engine.dispose()
        config = yaml.safe_dump(world.agent_config(store_url=store_url, http_port=port), sort_keys=False)
        if write_config is not None:
            write_config.write_text(config)
        say(f"# sandbox for scenario {world.scenario.id}")
        for name, url in vars(endpoints).items():
            say(f"#   {name:<11} {url}")
        say(
            f"# fire the alarm:  curl -X POST {endpoints.control}/_sandbox/fire -H 'content-type: application/json' "
            f'-d \'{{"deliver_to": "http://127.0.0.1:{port}/webhooks/sns"}}\''
        )
        say("# agent config (oncall-agent serve --config FILE):")
        say(config)
        stop.wait()
    finally:
        world.stop()
