"""The FastAPI application: webhook routes, health, readiness and Prometheus metrics.

Every refusal is a JSON body `{"error": <reason code>, "detail": <what is wrong>}` with a 4xx status, nothing
stored, and a counter bumped. A store failure answers 5xx so SNS and EventBridge retry (SNS treats any 4xx as
delivered, so a transient fault must never be a 4xx).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from oncall_agent.domain.errors import (
    IgnoredEvent,
    OncallAgentError,
    PayloadError,
    SignatureError,
    StoreError,
    TransientStoreError,
)
from oncall_agent.intake.service import IntakeResult, IntakeService, Outcome, TopicNotAllowed, Unauthenticated
from oncall_agent.intake.sns import CertificateUnavailableError
from oncall_agent.observability import IntakeMetrics, get_logger

log = get_logger(__name__)

SNS_CONTENT_TYPES = ("text/plain", "application/json")
EVENTBRIDGE_CONTENT_TYPES = ("application/json",)


class Refusal(Exception):
    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


_ERROR_STATUS: list[tuple[type[Exception], int, str]] = [
    (IgnoredEvent, 200, "ignored"),
    # Could not fetch the signing certificate: not the sender's fault, so 5xx and SNS retries.
    (CertificateUnavailableError, 503, "certificate_unavailable"),
    (SignatureError, 403, "bad_signature"),
    (TopicNotAllowed, 403, "topic_not_allowed"),
    (Unauthenticated, 401, "unauthenticated"),
    (PayloadError, 400, "bad_payload"),
    (TransientStoreError, 503, "store_unavailable"),
    (StoreError, 500, "store_error"),
]


async def _read_json(request: Request, limit: int, content_types: tuple[str, ...]) -> dict[str, Any]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in content_types:
        raise Refusal(415, "unsupported_media_type", f"content-type {media or '(none)'} is not one of {content_types}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refusal(413, "body_too_large", f"body of {declared} bytes exceeds the limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise Refusal(413, "body_too_large", f"body exceeds the limit of {limit} bytes")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refusal(400, "malformed_json", f"body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise Refusal(400, "bad_payload", f"body must be a JSON object, not {type(payload).__name__}")
    return payload


def _answer(channel: str, metrics: IntakeMetrics, result: IntakeResult, started: float) -> JSONResponse:
    metrics.requests.labels(channel, result.outcome.value).inc()
    if result.outcome is Outcome.STORED:
        metrics.events_stored.labels(channel).inc()
    elif result.outcome is Outcome.DUPLICATE:
        metrics.duplicates.labels(channel).inc()
    metrics.ack_seconds.labels(channel).observe(time.perf_counter() - started)
    body: dict[str, Any] = {"status": result.outcome.value}
    if result.event_id is not None:
        body["event_id"] = result.event_id
    return JSONResponse(body, status_code=200)


def _refuse(channel: str, metrics: IntakeMetrics, exc: Exception) -> JSONResponse:
    if isinstance(exc, Refusal):
        status, reason, detail = exc.status, exc.reason, exc.detail
    else:
        status, reason = next((s, r) for kind, s, r in _ERROR_STATUS if isinstance(exc, kind))
        detail = str(exc)
    if status == 200:
        metrics.requests.labels(channel, "ignored").inc()
        return JSONResponse({"status": "ignored", "detail": detail})
    metrics.requests.labels(channel, "refused" if status < 500 else "failed").inc()
    metrics.rejected.labels(channel, reason).inc()
    log.info("intake_refused", channel=channel, status=status, reason=reason, detail=detail[:300])
    return JSONResponse({"error": reason, "detail": detail}, status_code=status)


def create_app(
    intake: IntakeService,
    metrics: IntakeMetrics,
    max_body_bytes: int,
    eventbridge_header: str,
    check_ready: Callable[[], None],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    app = FastAPI(title="oncall-agent", lifespan=lifespan, docs_url=None, redoc_url=None)
    handled = (Refusal, OncallAgentError)

    @app.post("/webhooks/sns")
    async def sns_webhook(request: Request) -> JSONResponse:
        started = time.perf_counter()
        try:
            message = await _read_json(request, max_body_bytes, SNS_CONTENT_TYPES)
            result = await run_in_threadpool(
                intake.accept_sns,
                message,
                request.headers.get("x-amz-sns-message-type"),
                request.headers.get("x-amz-sns-topic-arn"),
            )
        except handled as exc:
            return _refuse("sns", metrics, exc)
        return _answer("sns", metrics, result, started)

    @app.post("/webhooks/eventbridge")
    async def eventbridge_webhook(request: Request) -> JSONResponse:
        started = time.perf_counter()
        try:
            intake.authenticate_eventbridge(request.headers.get(eventbridge_header))
            payload = await _read_json(request, max_body_bytes, EVENTBRIDGE_CONTENT_TYPES)
            result = await run_in_threadpool(intake.accept_eventbridge, payload)
        except handled as exc:
            return _refuse("eventbridge", metrics, exc)
        return _answer("eventbridge", metrics, result, started)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        try:
            await run_in_threadpool(check_ready)
        except OncallAgentError as exc:
            return JSONResponse({"status": "not_ready", "detail": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
