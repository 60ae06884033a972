"""The reason step's OpenTelemetry spans, read back from an in-memory exporter: `invoke_agent` around the step,
`chat` per model call with the GenAI attributes (provider, model, tokens, finish reason, error type),
`execute_tool` per lookup."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from oncall_agent.domain.evidence import Evidence
from oncall_agent.domain.reasoning import FailureKind, Lookup, ReasoningFailed, Usage
from oncall_agent.investigation.deps import LlmLimits
from oncall_agent.investigation.reasoning.step import reason_over
from tests.unit.test_reason_lookups import DEPLOY, HYPOTHESES, SCOPE, Looker, Runner


def _tracer() -> tuple[InMemorySpanExporter, object]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter, provider.get_tracer("test")


MODEL = "us.amazon.nova-2-lite-v1:0"


def test_agent_chat_and_tool_spans_carry_the_genai_attributes() -> None:
    exporter, tracer = _tracer()
    model = Looker([Lookup(tool="logs", target="payments")])
    limits = LlmLimits(model_id=MODEL, max_rounds=2, max_tool_calls=2)
    reason_over(SCOPE, [DEPLOY], HYPOTHESES, model, limits, 0.5, lookup=Runner(), tracer=tracer)  # type: ignore[arg-type]
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert [s.name for s in exporter.get_finished_spans()] == [
        f"chat {MODEL}",
        "execute_tool logs",
        f"chat {MODEL}",
        "invoke_agent oncall-agent.reason",
    ]
    agent = spans["invoke_agent oncall-agent.reason"].attributes
    assert agent["gen_ai.operation.name"] == "invoke_agent" and agent["gen_ai.provider.name"] == "aws.bedrock"
    assert agent["gen_ai.conversation.id"] == "inc-1"
    assert (agent["gen_ai.usage.input_tokens"], agent["gen_ai.usage.output_tokens"]) == (2000, 200)
    chat = spans[f"chat {MODEL}"].attributes
    assert chat["gen_ai.request.model"] == MODEL and chat["gen_ai.usage.input_tokens"] == 1000
    assert str(chat["oncall.prompt.version"]).startswith("reason-")
    tool = spans["execute_tool logs"]
    assert tool.attributes["gen_ai.tool.name"] == "logs" and tool.attributes["oncall.evidence.found"] == 1
    assert tool.parent is not None and tool.parent.span_id == spans["invoke_agent oncall-agent.reason"].context.span_id


class Refused:
    def reason(self, system: str, prompt: str) -> object:
        raise ReasoningFailed(FailureKind.THROTTLED, "ThrottlingException: slow down", Usage(input_tokens=5))


def test_a_failed_call_sets_the_error_type_on_chat_and_agent() -> None:
    exporter, tracer = _tracer()
    out = reason_over(SCOPE, [DEPLOY], HYPOTHESES, Refused(), LlmLimits(model_id=MODEL), 0.5, tracer=tracer)  # type: ignore[arg-type]
    chat, agent = exporter.get_finished_spans()
    assert chat.attributes["error.type"] == "throttled" and chat.status.status_code is StatusCode.ERROR
    assert chat.attributes["gen_ai.usage.input_tokens"] == 5
    assert agent.attributes["error.type"] == "throttled"
    assert out.totals["failure"] == "throttled" and isinstance(out.added[-1], Evidence)
