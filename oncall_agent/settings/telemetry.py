"""Settings: OpenTelemetry traces (GenAI spans of the LLM calls, investigation traces), exported by OTLP/HTTP only
when `otlp_endpoint` is set; without it spans are made and dropped (no exporter, no network)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from oncall_agent.settings.base import Section


class TelemetrySettings(Section):
    # e.g. http://localhost:4318/v1/traces (an OpenTelemetry Collector, Jaeger, Tempo, X-Ray via ADOT).
    otlp_endpoint: str | None = None
    # Sent with every export, e.g. an `authorization` header of a hosted backend; never logged.
    otlp_headers: dict[str, SecretStr] = Field(default_factory=dict)
    service_name: str = "oncall-agent"
    # Fraction of traces kept (parent-based: a sampled investigation keeps all its LLM and tool spans).
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    export_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"otlp_endpoint must be an http(s) URL (OTLP/HTTP), not {value!r}")
        return value or None
