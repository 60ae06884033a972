"""`oncall-agent eval`: the runner on a shipped scenario (JSON shape, score), format errors, and the moto meter."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from typer.testing import CliRunner

from oncall_agent.cli import app
from oncall_agent.sandbox import moto_latency
from tests.conftest import SCENARIOS

CONTRACT_ROW = {"id", "category", "top1", "top3", "action", "abstained", "confidently_wrong", "seconds", "api_calls"}
CONTRACT_TOTALS = {
    "n",
    "top1",
    "top3",
    "action",
    "abstained",
    "confidently_wrong",
    "brier",
    "p50_seconds",
    "p95_seconds",
}


@pytest.mark.sandbox
@pytest.mark.slow
def test_eval_scores_the_bad_deploy_scenario(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    shutil.copy(SCENARIOS / "ecs-bad-deploy.yaml", folder)
    out = tmp_path / "eval.json"

    result = CliRunner().invoke(app, ["eval", str(folder), "--json", str(out)])

    assert result.exit_code == 0, result.output
    assert "[1/1] ecs-bad-deploy" in result.stderr
    assert "ecs-bad-deploy" in result.stdout and "p95_seconds=" in result.stdout
    doc = json.loads(out.read_text())
    assert set(doc) >= {"scenarios", "totals"}
    assert set(doc["totals"]) == CONTRACT_TOTALS
    [row] = doc["scenarios"]
    assert set(row) - {"extra"} == CONTRACT_ROW
    assert row["id"] == "ecs-bad-deploy" and row["category"] == "deploy"
    assert row["top1"] is True and row["top3"] is True
    assert row["action"] is True and row["confidently_wrong"] is False and row["abstained"] is False
    assert 0 < row["seconds"] < 60
    extra = row["extra"]
    assert "error" not in extra
    assert extra["first_action"] == "ecs.rollback"
    # The agent read AWS (moto) and the stand-ins during the investigation; seeding traffic is not counted.
    by_backend = extra["api_calls_by_backend"]
    assert row["api_calls"] == sum(by_backend.values())
    assert by_backend.get("aws:monitoring", 0) >= 1 and by_backend.get("aws:logs", 0) >= 1
    assert by_backend.get("cloudtrail", 0) >= 1 and by_backend.get("github", 0) >= 1
    assert row["api_calls"] < 200
    assert doc["totals"]["n"] == 1 and doc["totals"]["top1"] == 1.0
    # Right at confidence c scores (c - 1)²; the first hypothesis leads, so c >= 0.5 and the term is at most 0.25.
    top = extra["top_hypothesis"]["confidence"]
    assert extra["brier"] == pytest.approx((top - 1) ** 2, abs=1e-3) and doc["totals"]["brier"] == extra["brier"]
    assert doc["totals"]["p50_seconds"] == row["seconds"]
    # Nothing was approved: no action that needs approval ran.
    assert all(a["status"] == "proposed" for a in extra["actions"] if a["policy"] == "approval")


def test_eval_rejects_a_malformed_scenario_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("id: Not A Slug\ntitle: x\n")
    result = CliRunner().invoke(app, ["eval", str(tmp_path)])
    assert result.exit_code == 2
    assert "broken.yaml" in result.stderr and "id" in result.stderr


@pytest.mark.sandbox
def test_moto_latency_delays_and_meters_every_aws_request() -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    assert moto_latency.install(0)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "cloudwatch",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="replica7",
            aws_secret_access_key="testing",
            config=Config(user_agent_appid="meter-test"),
        )
        client.describe_alarms()  # warm-up, not part of the measurement
        moto_latency.set_latency(200)
        moto_latency.clear_calls()
        began = time.monotonic()
        client.describe_alarms()
        elapsed = time.monotonic() - began
        requests.get(f"{endpoint}/moto-api/config", timeout=10).raise_for_status()  # admin: not delayed or logged
        [call] = moto_latency.calls()
        assert (call.service, call.operation, call.status) == ("monitoring", "DescribeAlarms", 200)
        assert call.access_key == "replica7" and "app/meter-test" in call.user_agent  # who asked
        assert elapsed >= 0.2 and call.ended - call.started >= 0.2
        assert moto_latency.calls(since=call.started + 1) == []
        assert moto_latency.in_flight() == []
        pending = threading.Thread(target=client.describe_alarms)
        pending.start()  # while moto has not answered, the request is in flight (and not yet in the log)
        waiting = wait_until(moto_latency.in_flight)
        assert [(c.operation, c.access_key, c.ended) for c in waiting] == [("DescribeAlarms", "replica7", 0.0)]
        assert len(moto_latency.calls()) == 1
        pending.join()
        assert moto_latency.in_flight() == [] and len(moto_latency.calls()) == 2
    finally:
        moto_latency.set_latency(0)
        server.stop()


def wait_until(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return value
