"""`oncall-agent sandbox up`: runs in the foreground, prints endpoints and a config the agent accepts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def test_sandbox_up_prints_a_working_config_and_stops_on_sigterm(tmp_path: Path) -> None:
    config_file = tmp_path / "oncall-agent.yaml"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oncall_agent",
            "sandbox",
            "up",
            "--scenario",
            str(SCENARIOS / "config-change-sg.yaml"),
            "--store-url",
            f"sqlite:///{tmp_path / 'agent.db'}",
            "--write-config",
            str(config_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not config_file.exists() or not config_file.read_text():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "sandbox up printed no config"
            time.sleep(0.2)
        settings = yaml.safe_load(config_file.read_text())
        check = subprocess.run(
            [sys.executable, "-m", "oncall_agent", "config", "check", "--config", str(config_file), "--json"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert json.loads(check.stdout)["services"] == len(settings["services"])
        # The stand-ins answer on the printed endpoints, with the printed credentials.
        github = settings["integrations"]["github"]
        answer = requests.get(f"{github['url']}/user", headers={"Authorization": f"token {github['token']}"}, timeout=5)
        assert answer.status_code == 200
        cert_source = next(iter(settings["intake"]["sns"]["certificate_sources"].values()))
        assert requests.get(cert_source, timeout=5).text.startswith("-----BEGIN CERTIFICATE-----")
        # An approver who may decide for every team, and the console the tickets link to.
        (name, approver), *_ = settings["approvals"]["approvers"].items()
        teams = {s["tags"]["team"] for s in settings["services"] if s.get("tags", {}).get("team")}
        assert approver["token"] and set(approver["groups"]) >= teams | {"oncall"}
        assert settings["console"]["base_url"] == "http://127.0.0.1:8080"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    printed = process.stdout.read() if process.stdout else ""
    assert f"approver:    {name}, token {approver['token']}" in printed
    assert "console:     http://127.0.0.1:8080/" in printed
