"""OpenTelemetry spans for the reason step, after the GenAI semantic conventions: `invoke_agent` around the step,
`chat` for each model call (model, tokens, finish reason, error type), `execute_tool` for each lookup. The API
is a no-op until a tracer provider is configured: bootstrap hands over the investigation's tracer (`telemetry`),
so these spans sit in the incident's trace, exported by OTLP when `telemetry.otlp_endpoint` is set."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

PROVIDER = "aws.bedrock"
AGENT = "oncall-agent.reason"


def tracer_or_default(tracer: Tracer | None) -> Tracer:
    return tracer or trace.get_tracer("oncall_agent.reasoning")


@contextmanager
def agent_span(tracer: Tracer, model: str, incident_id: str, provider: str = PROVIDER) -> Iterator[Span]:
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": provider,
        "gen_ai.agent.name": AGENT,
        "gen_ai.request.model": model,
        "gen_ai.conversation.id": incident_id,
    }
    with tracer.start_as_current_span(f"invoke_agent {AGENT}", attributes=attributes) as span:
        yield span


@contextmanager
def chat_span(tracer: Tracer, model: str, prompt_version: str, provider: str = PROVIDER) -> Iterator[Span]:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "oncall.prompt.version": prompt_version,
    }
    with tracer.start_as_current_span(f"chat {model}", attributes=attributes, record_exception=False) as span:
        yield span


def answered(span: Span, input_tokens: int, output_tokens: int, finish_reason: str | None) -> None:
    span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
    if finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [finish_reason])


def failed(span: Span, error_type: str, message: str) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, message[:200]))


@contextmanager
def tool_span(tracer: Tracer, tool: str, target: str) -> Iterator[Span]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "gen_ai.tool.type": "function",
        "oncall.tool.target": target[:200],
    }
    with tracer.start_as_current_span(f"execute_tool {tool}", attributes=attributes) as span:
        yield span
