"""The OpenTelemetry set-up (`oncall_agent.telemetry`): spans go out by OTLP/HTTP, with the configured headers
and service name, only when an endpoint is configured (a local HTTP receiver decodes what arrives)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request, Response
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import SecretStr

from oncall_agent.sandbox.standins import BackgroundServer
from oncall_agent.settings import TelemetrySettings
from oncall_agent.telemetry import configure_tracing

pytestmark = pytest.mark.sandbox


def test_spans_go_out_by_otlp_only_when_an_endpoint_is_configured() -> None:
    received: list[tuple[str, ExportTraceServiceRequest]] = []
    collector = FastAPI()

    @collector.post("/v1/traces")
    async def traces(request: Request) -> Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.body())
        received.append((request.headers.get("authorization", ""), message))
        return Response(b"", media_type="application/x-protobuf")

    with BackgroundServer(collector) as server:
        settings = TelemetrySettings(
            otlp_endpoint=f"{server.base_url}/v1/traces",
            otlp_headers={"authorization": SecretStr("Bearer otlp-token")},
            service_name="oncall-test",
        )
        provider = configure_tracing(settings)
        with provider.get_tracer("t").start_as_current_span("chat us.amazon.nova-2-lite-v1:0"):
            pass
        provider.shutdown()  # flushes the batch
        quiet = configure_tracing(TelemetrySettings())
        with quiet.get_tracer("t").start_as_current_span("not exported"):
            pass
        quiet.shutdown()
    ((authorization, export),) = received
    (resource_spans,) = export.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
    spans = [s.name for scope in resource_spans.scope_spans for s in scope.spans]
    assert (authorization, service, spans) == ("Bearer otlp-token", "oncall-test", ["chat us.amazon.nova-2-lite-v1:0"])


def test_otlp_endpoint_must_be_an_http_url() -> None:
    with pytest.raises(ValueError, match="otlp_endpoint must be an http"):
        TelemetrySettings(otlp_endpoint="localhost:4317")
