"""gather: one branch per evidence source (fan-out with Send); branches run in parallel, the join is correlate."""

from __future__ import annotations

import time
from typing import Any

from langgraph.types import Send

from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.sources import SOURCES, gather_one
from oncall_agent.investigation.state import InvestigationState


def fan_out(state: InvestigationState) -> list[Send]:
    return [Send("gather", {"scope": state["scope"], "source": name}) for name in SOURCES]


def make(deps: Deps) -> Any:
    def gather(branch: InvestigationState) -> dict[str, Any]:
        started = time.perf_counter()
        found = gather_one(deps, branch["source"], branch["scope"])
        return {
            "evidence": [item.model_dump(mode="json") for item in found.evidence],
            "source_seconds": {branch["source"]: round(time.perf_counter() - started, 3)},
            "source_calls": {branch["source"]: found.api_calls},
        }

    return gather
