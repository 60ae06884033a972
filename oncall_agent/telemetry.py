"""OpenTelemetry set-up shared by every traced part of the agent (the LLM's GenAI spans, investigation traces):
one `TracerProvider` per process, exporting by OTLP/HTTP only when configured.

    provider = configure_tracing(settings.telemetry)          # in bootstrap, once
    tracer = provider.get_tracer("oncall_agent.investigation")  # handed to what makes spans
    ...
    provider.shutdown()                                        # flushes the batch exporter

Without `otlp_endpoint` the provider has no exporter: spans are made (their ids still correlate logs) and
dropped. Tests pass `exporters=[InMemorySpanExporter()]` and read the finished spans back. The OTLP exporter is
the optional extra `oncall-agent[otlp]`; asking for OTLP without it installed is a clear error, not silence.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from oncall_agent.domain.errors import ConfigError
from oncall_agent.settings.telemetry import TelemetrySettings

__all__ = ["TracerProvider", "configure_tracing", "otlp_exporter"]


def otlp_exporter(settings: TelemetrySettings) -> SpanExporter:
    """The OTLP/HTTP (protobuf) span exporter to `settings.otlp_endpoint`."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise ConfigError(
            "telemetry.otlp_endpoint is set but the OTLP exporter is not installed: pip install 'oncall-agent[otlp]'"
        ) from exc
    headers = {name: secret.get_secret_value() for name, secret in settings.otlp_headers.items()}
    return OTLPSpanExporter(endpoint=settings.otlp_endpoint, headers=headers, timeout=settings.export_timeout_seconds)


def configure_tracing(settings: TelemetrySettings, exporters: Sequence[SpanExporter] = ()) -> TracerProvider:
    """A provider for this process: OTLP in batches when configured, plus `exporters` span by span (tests)."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    if settings.otlp_endpoint:
        provider.add_span_processor(BatchSpanProcessor(otlp_exporter(settings)))
    for exporter in exporters:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider
