"""Logging and metrics: structlog JSON logs with secret redaction, and the Prometheus metrics the agent exports."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_SECRET_HINTS = ("secret", "password", "token", "authorization", "signature", "credential")


def _redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Belt and braces: settings hold secrets as SecretStr, but a stray key named like a secret is masked too."""
    for key in list(event):
        if any(hint in key.lower() for hint in _SECRET_HINTS):
            event[key] = "**********"
    return event


def configure_logging(level: str = "INFO", json_output: bool = True) -> None:
    """Every log line to stderr as JSON (or readable text for the demo): structlog's own and the stdlib's
    (uvicorn, alembic, APScheduler) go through the same processors, so a log shipper sees one format."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
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
        self.ungrouped = Gauge("oncall_events_ungrouped", "Stored events not yet grouped", registry=r)
