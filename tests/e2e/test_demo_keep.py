"""`oncall-agent demo --keep`: after the story the store stays on disk and the agent keeps serving it (so the
incident can be browsed) until Ctrl-C, which ends the demo cleanly."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox, pytest.mark.slow]
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "ecs-bad-deploy.yaml"


def test_demo_keep_leaves_the_store_and_the_agent_serving_until_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "oncall_agent", "demo", "--scenario", str(SCENARIO), "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        assert process.stdout is not None
        while not (lines and "keeps serving" in lines[-1]):
            assert time.monotonic() < deadline and process.poll() is None, "\n".join(lines[-20:])
            lines.append(process.stdout.readline().rstrip())
        serving = re.search(r"serving at (\S+) \(API token (\S+)\)", lines[-1])
        kept = re.search(r"kept: store and config in (\S+) ", "\n".join(lines))
        assert serving and kept, lines[-3:]
        url, token = serving.groups()
        incidents = requests.get(f"{url}/api/incidents", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert incidents.status_code == 200 and incidents.json(), incidents.text
        assert (Path(kept.group(1)) / "oncall-agent.db").exists()
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    assert code == 0, process.stderr.read() if process.stderr else ""
    assert (Path(kept.group(1)) / "oncall-agent.yaml").exists()  # still there after the demo ended
    shutil.rmtree(kept.group(1))
