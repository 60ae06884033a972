"""Investigation traces: one OpenTelemetry trace per incident, a span per graph node and per evidence source.

The trace id is derived from the incident id, so every run of an incident's graph - the first investigation, the
resumption after an approval, a takeover by another replica - lands in the same trace without storing anything:
each run's root span (`investigation`) is a child of a fixed remote parent made from the incident id. The trace id
is on the incident (`trace_id` in its view) and in every log line written inside a span (observability).
Only the OpenTelemetry API here; the SDK and its exporters are configured in `oncall_agent.telemetry`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from langgraph.errors import GraphInterrupt
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags, Tracer

TRACER_NAME = "oncall_agent.investigation"
INCIDENT_ATTRIBUTE = "oncall.incident.id"


def _ids(incident_id: str) -> tuple[int, int]:
    digest = hashlib.sha256(f"oncall-agent:{incident_id}".encode()).digest()
    # Both must be non-zero to be valid; a zero from sha256 is practically impossible, but cheap to rule out.
    return int.from_bytes(digest[:16]) or 1, int.from_bytes(digest[16:24]) or 1


def trace_id_of(incident_id: str) -> str:
    """The incident's trace id as tracing back ends show it (32 hex digits)."""
    return trace.format_trace_id(_ids(incident_id)[0])


def incident_context(incident_id: str) -> Context:
    trace_id, span_id = _ids(incident_id)
    parent = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(parent))


@contextmanager
def investigation_span(tracer: Tracer, incident_id: str, **attributes: Any) -> Iterator[trace.Span]:
    """The root span of one run of the incident's graph, in the incident's trace."""
    with tracer.start_as_current_span(
        "investigation",
        context=incident_context(incident_id),
        attributes={INCIDENT_ATTRIBUTE: incident_id, **attributes},
    ) as span:
        yield span


def traced_node(tracer: Tracer, name: str, node: Callable[[Any], Any]) -> Any:
    """`node` in a span `node <name>` (LangGraph runs nodes with the caller's context, so it nests)."""

    @functools.wraps(node)
    def run(state: Any) -> Any:
        attributes = {"langgraph.node": name}
        if isinstance(state, dict) and "source" in state:
            attributes["oncall.source"] = str(state["source"])
        with tracer.start_as_current_span(
            f"node {name}", attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                return node(state)
            except GraphInterrupt:  # waiting for an approver is how the graph pauses, not a failure
                span.set_attribute("langgraph.interrupted", True)
                raise
            except Exception as exc:
                span.record_exception(exc)
                mark_failed(span, f"{type(exc).__name__}: {exc}")
                raise

    return run


@contextmanager
def source_span(tracer: Tracer, source: str) -> Iterator[trace.Span]:
    with tracer.start_as_current_span(f"source {source}", attributes={"oncall.source": source}) as span:
        yield span


def mark_failed(span: trace.Span, reason: str) -> None:
    span.set_status(Status(StatusCode.ERROR, reason[:200]))
