"""The reason node in place: a pass-through when the LLM is off, and its totals and narrative stored with the
incident by report, read back by the incident view (`incidents show`, the API, the console)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from oncall_agent.domain.evidence import Category, Evidence, EvidenceKind, Hypothesis
from oncall_agent.domain.reasoning import RankedCandidate, Reasoning, ReasoningReply, Usage
from oncall_agent.investigation.deps import LlmLimits
from oncall_agent.investigation.nodes import reason, report
from oncall_agent.investigation.views import incident_view
from oncall_agent.observability import LlmMetrics
from tests.unit.node_deps import INCIDENT, NodeWorld, node_world

DEPLOY = Evidence(kind=EvidenceKind.DEPLOY, source="ecs", entity="checkout", summary="deploy checkout:118")
HYPOTHESES = [
    Hypothesis(category=Category.DEPLOY, culprit="checkout:118", confidence=0.7, evidence_for=[DEPLOY.id]),
    Hypothesis(category=Category.UNKNOWN, confidence=0.3),
]


class Narrator:
    def reason(self, system: str, prompt: str) -> ReasoningReply:
        answer = Reasoning(ranking=[RankedCandidate(key="h1", cites=[DEPLOY.id])], narrative="The deploy broke it.")
        return ReasoningReply(reasoning=answer, usage=Usage(input_tokens=1500, output_tokens=90), model_id="m")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[NodeWorld]:
    yield from node_world(tmp_path)


def _state() -> dict[str, Any]:
    return {
        "incident_id": INCIDENT,
        "scope": {"incident_id": INCIDENT, "service": "checkout", "alarm_name": "checkout-5xx", "region": "us-east-1"},
        "evidence": [DEPLOY.model_dump(mode="json")],
        "hypotheses": [h.model_dump(mode="json") for h in HYPOTHESES],
    }


def test_off_is_a_pass_through(world: NodeWorld) -> None:
    assert reason.make(world.deps())(_state()) == {}  # type: ignore[arg-type]


def test_totals_and_narrative_are_stored_with_the_incident(world: NodeWorld) -> None:
    registry = CollectorRegistry()
    deps = dataclasses.replace(
        world.deps(),
        reasoner=Narrator(),
        llm=LlmLimits(model_id="m", price_per_million=(1.0, 5.0)),
        on_reasoned=LlmMetrics(registry).record,
    )
    state = _state()
    state.update(reason.make(deps)(state))  # type: ignore[arg-type]
    assert state["correlated"] == _state()["hypotheses"]
    report.make(deps)(state)  # type: ignore[arg-type]
    view = incident_view(world.store, world.results, world.actions, INCIDENT)
    assert view is not None
    llm = view["llm"]
    assert (llm["calls"], llm["input_tokens"], llm["output_tokens"]) == (1, 1500, 90)
    assert llm["cost_usd"] == pytest.approx((1500 * 1.0 + 90 * 5.0) / 1e6)
    assert llm["narrative"] == "The deploy broke it." and llm["prompt_version"].startswith("reason-")
    tickets = " ".join(str(row.payload) for row in world.outbox.rows())
    assert "The deploy broke it." in tickets and "1500 tokens in, 90 out" in tickets  # the ticket shows them
    sample = registry.get_sample_value
    assert sample("oncall_llm_calls_total", {"model": "m", "outcome": "ok"}) == 1
    assert sample("oncall_llm_tokens_total", {"model": "m", "direction": "input"}) == 1500
    assert sample("oncall_llm_cost_usd_total", {"model": "m"}) == pytest.approx(llm["cost_usd"])
    assert sample("oncall_llm_step_seconds_count", {"model": "m"}) == 1


def test_an_incident_without_the_llm_has_no_totals(world: NodeWorld) -> None:
    report.make(world.deps())(_state())  # type: ignore[arg-type]
    view = incident_view(world.store, world.results, world.actions, INCIDENT)
    assert view is not None and view["llm"] is None
