"""`oncall-agent demo --json` on every shipped scenario the pure generators can express (format 1): the story
completes and names the true culprit first. Neighbourhood scenarios (format 2): test_demo_neighbourhood.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from oncall_agent.sandbox.scenario import load_scenario
from tests.e2e.demo_run import SCENARIOS, assert_story, assert_truth_first, run_demo
from tests.unit.correlate_inputs import expressible

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox, pytest.mark.slow]
FORMAT_1 = [p for p in SCENARIOS if expressible(load_scenario(p))]


@pytest.mark.parametrize("path", FORMAT_1, ids=[p.stem for p in FORMAT_1])
def test_demo_json_names_the_true_culprit_first(path: Path) -> None:
    result = run_demo(path)
    assert_truth_first(result, load_scenario(path).truth)
    assert_story(result, load_scenario(path))
