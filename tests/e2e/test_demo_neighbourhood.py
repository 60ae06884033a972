"""`oncall-agent demo --json` on every shipped neighbourhood scenario (format 2: resources, AWS events, recorded
points): the story completes for all of them, and the true cause comes first for all but the ones listed in
KNOWN_MISSES, the scenarios the agent does not answer yet (measured by `oncall-agent eval tests/scenarios`; the
README's evaluation section lists them). Answering one of them is progress: take it off the list."""

from __future__ import annotations

from pathlib import Path

import pytest

from oncall_agent.sandbox.scenario import load_scenario
from tests.e2e.demo_run import SCENARIOS, assert_story, assert_truth_first, run_demo
from tests.unit.correlate_inputs import expressible

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox, pytest.mark.slow]
FORMAT_2 = [p for p in SCENARIOS if not expressible(load_scenario(p))]
# Held-out batch 3 (tests/scenarios/README-heldout-batch3.md says why each is missed): the release that caused the
# first shipped 20 hours before the alarm, beyond the deploys' window; the second's truth is "unknown" while the
# session cache plainly ran out of CPU and memory (the agent names the cache: a disagreement about the category).
# Held-out batch 4 (README-heldout-batch4.md): a usage plan rolled out in three batches of API keys, each batch
# stepping the 429s up; every CloudTrail event is scored alone, so the agent abstains.
KNOWN_MISSES: frozenset[str] = frozenset(
    {
        "deploy-maintenance-release-peak-load",
        "unknown-session-cache-cpu-memory-spike",
        "config-change-usage-plan-throttle-migration",
    }
)


def test_the_known_misses_are_shipped_scenarios() -> None:
    assert {p.stem for p in FORMAT_2} >= KNOWN_MISSES


@pytest.mark.parametrize("path", FORMAT_2, ids=[p.stem for p in FORMAT_2])
def test_demo_json_on_a_neighbourhood(path: Path) -> None:
    scenario = load_scenario(path)
    result = run_demo(path)
    if path.stem not in KNOWN_MISSES:
        assert_truth_first(result, scenario.truth)
    assert_story(result, scenario)
