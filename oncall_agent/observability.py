"""Logging and metrics: structlog JSON logs with secret redaction, and the Prometheus metrics the agent exports."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_SECRET_HINTS = ("secret", "password", "token", "authorization", "signature", "credential")


def _redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Belt and braces: settings hold secrets as SecretStr, but a stray key named like a secret is masked too."""
    for key in list(event):
        if any(hint in key.lower() for hint in _SECRET_HINTS):
            event[key] = "**********"
    return event


def _trace_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The current OpenTelemetry span's trace and span ids, so a log line leads to its trace (and back)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", trace.format_trace_id(context.trace_id))
        event.setdefault("span_id", trace.format_span_id(context.span_id))
    return event


def configure_logging(level: str = "INFO", json_output: bool = True) -> None:
    """Every log line to stderr as JSON (or readable text for the demo): structlog's own and the stdlib's
    (uvicorn, alembic, APScheduler) go through the same processors, so a log shipper sees one format."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _trace_ids,
        _redact,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for noisy in ("uvicorn.access", "werkzeug", "apscheduler", "alembic", "botocore", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


class IntakeMetrics:
    """Counters and histograms of the intake path, registered on one registry per app instance."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "oncall_intake_requests",
            "Webhook requests by channel and outcome",
            ["channel", "outcome"],
            registry=r,
        )
        self.rejected = Counter(
            "oncall_intake_rejected",
            "Refused inbound payloads by channel and reason",
            ["channel", "reason"],
            registry=r,
        )
        self.events_stored = Counter("oncall_events_stored", "Alarm events stored", ["channel"], registry=r)
        self.duplicates = Counter("oncall_events_duplicate", "Duplicate deliveries recorded", ["channel"], registry=r)
        self.ack_seconds = Histogram(
            "oncall_intake_ack_seconds",
            "Time from request to acknowledgement",
            ["channel"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.polls = Counter("oncall_poll_runs", "DescribeAlarms poll runs by outcome", ["outcome"], registry=r)
        self.incidents_created = Counter("oncall_incidents_created", "Incidents opened by grouping", registry=r)
        self.old_events = Counter(
            "oncall_old_events",
            "Old SNS state changes checked against DescribeAlarms before they may open an incident, by verdict",
            ["verdict"],
            registry=r,
        )
        self.ungrouped = Gauge("oncall_events_ungrouped", "Stored events not yet grouped", registry=r)
        self.outbox_failed = Counter(
            "oncall_outbox_failed",
            "Outbox rows (ServiceNow/GitHub writes) given up after their retries",
            ["target", "operation"],
            registry=r,
        )


class LlmMetrics:
    """The reason step observed like a service: calls by outcome, tokens, latency, lookups, dropped claims and
    cost (from the settings' price table), by model. Fed the per-investigation totals the step stores."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.calls = Counter("oncall_llm_calls", "Model calls by model and outcome", ["model", "outcome"], registry=r)
        self.tokens = Counter("oncall_llm_tokens", "Tokens by model and direction", ["model", "direction"], registry=r)
        self.latency = Histogram(
            "oncall_llm_step_seconds",
            "Wall time of the reason step, lookups included",
            ["model"],
            registry=r,
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120),
        )
        self.tool_calls = Counter("oncall_llm_tool_calls", "Read-only lookups run for the model", ["model"], registry=r)
        self.dropped = Counter(
            "oncall_llm_dropped_claims", "Claims dropped for citing what does not exist", ["model"], registry=r
        )
        self.cost = Counter("oncall_llm_cost_usd", "Cost of the model's tokens in USD", ["model"], registry=r)

    def record(self, totals: dict[str, Any]) -> None:
        model = str(totals.get("model_id") or "unknown")
        self.calls.labels(model, str(totals.get("failure") or "ok")).inc(int(totals.get("calls") or 0))
        self.tokens.labels(model, "input").inc(int(totals.get("input_tokens") or 0))
        self.tokens.labels(model, "output").inc(int(totals.get("output_tokens") or 0))
        self.latency.labels(model).observe(float(totals.get("latency_seconds") or 0.0))
        self.tool_calls.labels(model).inc(int(totals.get("tool_calls") or 0))
        self.dropped.labels(model).inc(int(totals.get("dropped_claims") or 0))
        if isinstance(totals.get("cost_usd"), int | float):
            self.cost.labels(model).inc(float(totals["cost_usd"]))
