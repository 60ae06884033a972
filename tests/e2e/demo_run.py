"""Run `oncall-agent demo --scenario FILE --json` in a subprocess and check what every story must show."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from oncall_agent.eval.scoring import names_culprit
from oncall_agent.sandbox.scenario import Scenario, Truth

ROLLBACKS = {"ecs.rollback", "lambda.rollback", "codedeploy.rollback"}
SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))


def run_demo(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "oncall_agent", "demo", "--scenario", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def assert_story(result: dict[str, Any], scenario: Scenario) -> None:
    """The story completes: tickets on both trackers, a cited first hypothesis, a severity, an action taken or an
    escalation that reached the team (its group and on-call login, priority from the severity)."""
    top = result["hypotheses"][0]
    assert set(top["evidence_for"]), "the top hypothesis cites no evidence"
    assert result["servicenow"]["number"] and result["github"]["issue"]
    first_action = result["actions"][0]
    # The sandbox recovers when a rollback takes the culprit out of service; anything else escalates.
    assert result["incident"]["status"] == ("resolved" if first_action["kind"] in ROLLBACKS else "escalated")
    assert result["severity"] in {"sev1", "sev2", "sev3", "sev4"}
    if result["incident"]["status"] == "resolved":
        assert first_action["approved_by"] == "demo-operator"
        assert result["servicenow"]["state"] == "6" and result["github"]["state"] == "closed"
    else:
        service = next(s for s in scenario.services if s.name == result["incident"]["service"])
        team = service.tags.get("team", "oncall")  # the escalate runbook's team
        sn, gh = result["servicenow"], result["github"]
        assert sn["assignment_group"] == f"{team} on-call" and gh["assignees"] == [f"{team}-oncall"], (sn, gh)
        assert sn["state"] == "2" and sn["priority"] == str(int(sn["impact"]) + int(sn["urgency"]) - 1) != "5"


def assert_truth_first(result: dict[str, Any], truth: Truth) -> None:
    """The true cause first (its category or one in `also`, a culprit naming it) and an accepted first action."""
    top = result["hypotheses"][0]
    assert top["category"] in {truth.category, *truth.also}, top
    if truth.culprit:
        assert names_culprit(top["culprit"], truth.culprit, truth.accept), top
    kinds = [a["kind"] for a in result["actions"]]
    assert kinds[0] in truth.actions and not set(kinds) & set(truth.forbid), kinds
