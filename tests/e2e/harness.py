"""A sandbox world in this process and `oncall-agent serve` as a separate process pointed at it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
import yaml

from oncall_agent.sandbox.world import SandboxWorld

TOKEN = "e2e-approver-token"
APPROVER = "alice"  # storefront, the team of the scenario's service (API and CLI)
CLI_APPROVER = "bob"  # storefront, CLI only (no token)
OUTSIDER, OUTSIDER_TOKEN = "carol", "e2e-payments-token"  # another team
LEGACY, LEGACY_TOKEN = "dave", "e2e-old-style-token"  # the old `approvals.tokens` form: default group only


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


class Agent:
    """`oncall-agent serve` in its own process; can be killed and started again on the same store.

    Every agent started in a test is killed at teardown by the autouse fixture in tests/e2e/conftest.py, so a
    failed assertion never leaves a daemon running."""

    started: ClassVar[list[Agent]] = []

    def __init__(
        self,
        world: SandboxWorld,
        folder: Path,
        *,
        poll_interval: float = 0.5,
        verify_timeout: float = 20,
        action_ttl_minutes: float = 120,
    ):
        self.world = world
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = folder / "oncall-agent.yaml"
        settings = world.agent_config(
            store_url=f"sqlite:///{folder / 'oncall.db'}", http_port=self.port, poll_interval_seconds=poll_interval
        )
        settings["approvals"] = {
            "approvers": {
                APPROVER: {"token": TOKEN, "groups": ["storefront"]},
                CLI_APPROVER: {"groups": ["storefront"]},
                OUTSIDER: {"token": OUTSIDER_TOKEN, "groups": ["payments"]},
            },
            "tokens": {LEGACY: LEGACY_TOKEN},
        }
        settings["investigation"] = {
            "verify_timeout_seconds": verify_timeout,
            "verify_poll_seconds": 0.5,
            "action_ttl_minutes": action_ttl_minutes,
        }
        self.config.write_text(yaml.safe_dump(settings))
        self.log = folder / "serve.log"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> Agent:
        Agent.started.append(self)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "oncall_agent", "serve", "--config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("a"),
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        wait_for(self._ready, "the daemon to be ready")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"serve exited ({self.process.returncode}):\n{self.log.read_text()[-3000:]}")
        try:
            return requests.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # a loaded machine can be slow to answer at start
            return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}/api{path}", headers=headers, timeout=15, **kwargs)

    def cli(self, *args: str) -> Any:
        done = self.cli_run(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def cli_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "oncall_agent", *args, "--config", str(self.config), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def fire(self) -> str:
        """Fire the scenario's alarm (moto + signed SNS delivery); returns the incident id it became."""
        fired = self.world.fire(deliver_to=f"{self.url}/webhooks/sns")
        assert fired.delivered_status == 200
        alarm = self.world.scenario.incident_alarm.name

        def incident() -> str | None:
            found = [i for i in self.api("GET", "/incidents").json() if alarm in {a["name"] for a in i["alarms"]}]
            return found[0]["id"] if found else None

        return str(wait_for(incident, "the alarm to become an incident"))

    def incident(self, incident_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/incidents/{incident_id}").json())

    def wait_status(self, incident_id: str, *statuses: str, timeout: float = 90) -> dict[str, Any]:
        return dict(
            wait_for(
                lambda: (v := self.incident(incident_id))["status"] in statuses and v, f"status {statuses}", timeout
            )
        )

    def wait_links(self, incident_id: str, *names: str) -> dict[str, Any]:
        return dict(
            wait_for(
                lambda: all(n in (v := self.incident(incident_id))["links"] for n in names) and v, f"links {names}"
            )
        )
