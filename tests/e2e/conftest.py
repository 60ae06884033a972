"""E2E fixtures: no daemon outlives its test, whatever the test's outcome."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import Agent


@pytest.fixture(autouse=True)
def kill_agents_after_test() -> Iterator[None]:
    yield
    while Agent.started:
        agent = Agent.started.pop()
        if agent.process is not None and agent.process.poll() is None:
            agent.process.kill()
            agent.process.wait(timeout=30)
