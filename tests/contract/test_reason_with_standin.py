"""The reason step end to end against the Bedrock stand-in: the product's reasoner (built by bootstrap from `llm`
settings pointing at the stand-in, its boto3 client observed) plays every script; each failure mode becomes a
`gap` with its kind and leaves the correlator's ranking, no script can cite what does not exist, and the GenAI
spans of the step are read back from an in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from oncall_agent.bootstrap_llm import build_reasoner, llm_limits
from oncall_agent.domain.evidence import Category, Evidence, EvidenceKind, Hypothesis
from oncall_agent.investigation.reasoning.spans import AGENT
from oncall_agent.investigation.reasoning.step import Outcome, reason_over
from oncall_agent.sandbox.standins import BackgroundServer, BedrockState, FaultInjector, create_bedrock_app
from oncall_agent.settings import Settings, TelemetrySettings
from oncall_agent.telemetry import configure_tracing

pytestmark = pytest.mark.sandbox

DEPLOY = Evidence(kind=EvidenceKind.DEPLOY, source="ecs", entity="orders-api", summary="orders-api:42 rolled out")
ERRORS = Evidence(
    kind=EvidenceKind.LOG_SIGNATURE, source="logs", entity="orders-api", summary="NullPointerException x 120"
)
DB = Evidence(kind=EvidenceKind.METRIC_SHIFT, source="cloudwatch", entity="orders-db", summary="CPU 35%, flat")
HYPOTHESES = [
    Hypothesis(category=Category.DEPLOY, culprit="orders-api", confidence=0.82, evidence_for=[DEPLOY.id, ERRORS.id]),
    Hypothesis(category=Category.DEPENDENCY, culprit="orders-db", confidence=0.08, evidence_for=[DB.id]),
]
SCOPE = {"alarm_name": "orders-api-5xx", "service": "orders-api", "region": "us-east-1", "incident_id": "inc-1"}


@pytest.fixture(scope="module")
def standin() -> Iterator[tuple[BedrockState, str]]:
    state, faults = BedrockState(), FaultInjector()
    server = BackgroundServer(create_bedrock_app(state, faults), faults=faults)
    url = server.start()
    try:
        yield state, url
    finally:
        server.stop()


def _reason(standin: tuple[BedrockState, str], script: str, **llm: Any) -> tuple[Outcome, Any]:
    state, url = standin
    state.use(script)
    settings = Settings(
        aws={"credentials": {"access_key_id": "testing", "secret_access_key": "testing"}},
        llm={"provider": "bedrock", "endpoint_url": url, "max_attempts": 1, **llm},
    )
    exporter = InMemorySpanExporter()
    provider = configure_tracing(TelemetrySettings(), exporters=[exporter])
    reasoner = build_reasoner(settings)
    assert reasoner is not None
    limits = llm_limits(settings)
    tracer = provider.get_tracer("test")
    outcome = reason_over(SCOPE, [DEPLOY, ERRORS, DB], HYPOTHESES, reasoner, limits, 0.5, tracer=tracer)
    return outcome, exporter.get_finished_spans()


def _gaps(outcome: Outcome) -> list[str]:
    return [str(g.details["gap"]) for g in outcome.added if g.kind is EvidenceKind.GAP]


def test_helpful_keeps_the_ranking_cites_real_ids_and_is_traced(standin: tuple[BedrockState, str]) -> None:
    outcome, spans = _reason(standin, "helpful")
    assert outcome.totals["failure"] is None and outcome.totals["dropped_claims"] == 0
    assert [h.culprit for h in outcome.hypotheses[:2]] == ["orders-api", "orders-db"]
    assert "orders-api" in outcome.totals["narrative"] and _gaps(outcome) == []
    agent = next(s for s in spans if s.name == f"invoke_agent {AGENT}")
    chat = next(s for s in spans if s.name.startswith("chat "))
    assert chat.parent is not None and chat.parent.span_id == agent.context.span_id
    assert (agent.attributes or {})["gen_ai.conversation.id"] == "inc-1"
    attributes = dict(chat.attributes or {})
    assert attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert attributes["gen_ai.request.model"] == "us.amazon.nova-2-lite-v1:0"
    assert attributes["gen_ai.usage.input_tokens"] == outcome.totals["input_tokens"] > 0
    assert attributes["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert outcome.totals["cost_usd"] > 0  # Nova 2 Lite's price applied to the stand-in's tokens


@pytest.mark.parametrize(
    ("script", "failure"),
    [
        ("invalid-json", "invalid_output"),
        ("tool-loop", "invalid_output"),
        ("asks-for-action", "invalid_output"),
        ("throttled", "throttled"),
    ],
)
def test_a_failing_model_leaves_the_correlators_ranking_and_a_gap(
    standin: tuple[BedrockState, str], script: str, failure: str
) -> None:
    outcome, spans = _reason(standin, script)
    assert outcome.totals["failure"] == failure and failure in _gaps(outcome)
    assert outcome.hypotheses == HYPOTHESES
    agent = next(s for s in spans if s.name.startswith("invoke_agent"))
    assert (agent.attributes or {})["gen_ai.agent.name"] == AGENT
    assert (agent.attributes or {})["error.type"] == failure


def test_a_model_timeout_is_a_gap_within_the_read_timeout(standin: tuple[BedrockState, str]) -> None:
    outcome, spans = _reason(standin, "timeout", read_timeout_seconds=0.5, deadline_seconds=5)
    assert outcome.totals["failure"] == "timeout" and outcome.hypotheses == HYPOTHESES
    chat = next(s for s in spans if s.name.startswith("chat "))
    assert (chat.attributes or {})["error.type"] == "timeout"


def test_invented_ids_are_dropped_and_counted(standin: tuple[BedrockState, str]) -> None:
    outcome, _ = _reason(standin, "invented-ids")
    assert outcome.totals["dropped_claims"] > 0 and "dropped_claims" in _gaps(outcome)
    assert not [h for h in outcome.hypotheses if h.culprit == "payments-gateway"]
    assert outcome.hypotheses[0].culprit == "orders-api"


def test_a_distractor_promoted_without_citations_does_not_take_the_lead(standin: tuple[BedrockState, str]) -> None:
    outcome, _ = _reason(standin, "promote-distractor")
    assert outcome.hypotheses[0].culprit == "orders-api"
    assert outcome.hypotheses[0].confidence <= HYPOTHESES[0].confidence


def test_a_model_that_only_asks_for_lookups_is_cut_by_its_budgets(standin: tuple[BedrockState, str]) -> None:
    state, url = standin
    state.use("lookup-loop")
    settings = Settings(
        aws={"credentials": {"access_key_id": "testing", "secret_access_key": "testing"}},
        llm={"provider": "bedrock", "endpoint_url": url, "max_attempts": 1, "max_rounds": 3, "max_tool_calls": 3},
    )
    asked: list[tuple[str, str]] = []

    def lookup(request: Any, _seconds_left: float) -> list[Evidence]:
        asked.append((request.tool, request.target))
        return []

    reasoner = build_reasoner(settings)
    assert reasoner is not None
    outcome = reason_over(
        SCOPE,
        [DEPLOY, ERRORS, DB],
        HYPOTHESES,
        reasoner,
        llm_limits(settings),
        0.5,
        lookup=lookup,
        services=["orders-api"],
    )
    assert 0 < len(asked) <= 3 and outcome.totals["calls"] <= 3
    assert outcome.hypotheses[0].culprit == "orders-api" and outcome.hypotheses[0].confidence <= 0.82
    assert _gaps(outcome), outcome.totals
