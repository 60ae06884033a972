"""`oncall-agent demo --json` on every shipped scenario: the story completes and names the true culprit first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from oncall_agent.eval.scoring import names_culprit
from oncall_agent.sandbox.scenario import load_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox, pytest.mark.slow]
ROLLBACKS = {"ecs.rollback", "lambda.rollback", "codedeploy.rollback"}
SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_demo_json_names_the_true_culprit_first(path: Path) -> None:
    truth = load_scenario(path).truth
    done = subprocess.run(
        [sys.executable, "-m", "oncall_agent", "demo", "--scenario", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    top = result["hypotheses"][0]
    assert top["category"] == truth.category
    if truth.culprit:
        assert names_culprit(top["culprit"], truth.culprit, truth.accept), top
    assert set(top["evidence_for"]), "the top hypothesis cites no evidence"
    first_action = result["actions"][0]
    assert first_action["kind"] in truth.actions and not {a["kind"] for a in result["actions"]} & set(truth.forbid)
    assert result["servicenow"]["number"] and result["github"]["issue"]
    # The sandbox recovers when a rollback takes the culprit out of service; anything else escalates.
    assert result["incident"]["status"] == ("resolved" if first_action["kind"] in ROLLBACKS else "escalated")
    if result["incident"]["status"] == "resolved":
        assert first_action["approved_by"] == "demo-operator"
        assert result["servicenow"]["state"] == "6" and result["github"]["state"] == "closed"
