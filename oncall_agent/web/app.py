"""The FastAPI application: webhook routes, health, readiness and Prometheus metrics.

Every refusal is a JSON body `{"error": <reason code>, "detail": <what is wrong>}` with a 4xx status, nothing
stored, and a counter bumped. A store failure answers 5xx so SNS and EventBridge retry (SNS treats any 4xx as
delivered, so a transient fault must never be a 4xx).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import ClientDisconnect

from oncall_agent.domain.errors import (
    IgnoredEvent,
    OncallAgentError,
    PayloadError,
    SignatureError,
    StoreError,
    TransientStoreError,
)
from oncall_agent.intake.json_shape import check_json_value
from oncall_agent.intake.service import IntakeResult, IntakeService, Outcome, TopicNotAllowed, Unauthenticated
from oncall_agent.intake.sns import CertificateUnavailableError
from oncall_agent.lifecycle import REGISTRY as LIFECYCLE_REGISTRY
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


_BODY_LEFT_UNREAD = frozenset({"body_too_large", "body_timeout"})


async def _read_json(request: Request, limit: int, content_types: tuple[str, ...], timeout: float) -> dict[str, Any]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in content_types:
        raise Refusal(415, "unsupported_media_type", f"content-type {media or '(none)'} is not one of {content_types}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refusal(413, "body_too_large", f"body of {declared} bytes exceeds the limit of {limit}")
    body = await _read_body(request, limit, timeout)
    try:
        payload = json.loads(body)
    except RecursionError:
        raise Refusal(400, "malformed_json", "body is nested too deeply to parse") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refusal(400, "malformed_json", f"body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise Refusal(400, "bad_payload", f"body must be a JSON object, not {type(payload).__name__}")
    check_json_value(payload, "body")
    return payload


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The whole body within `timeout` seconds: a client trickling bytes (slow loris) must not hold a worker."""
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > limit:
                    raise Refusal(413, "body_too_large", f"body exceeds the limit of {limit} bytes")
    except TimeoutError:
        raise Refusal(408, "body_timeout", f"body not received within {timeout:g} s ({len(body)} bytes read)") from None
    except ClientDisconnect:
        # Nobody is left to answer; one log line (in _refuse), not a traceback.
        detail = f"client closed the connection after {len(body)} body bytes"
        raise Refusal(499, "client_disconnected", detail) from None
    return bytes(body)


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
    # The rest of an unread body would keep the connection (and a worker) busy: close it after answering.
    close = {"Connection": "close"} if reason in _BODY_LEFT_UNREAD else None
    return JSONResponse({"error": reason, "detail": detail}, status_code=status, headers=close)


def create_app(
    intake: IntakeService,
    metrics: IntakeMetrics,
    max_body_bytes: int,
    eventbridge_header: str,
    check_ready: Callable[[], None],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    body_timeout_seconds: float = 10.0,
) -> FastAPI:
    app = FastAPI(title="oncall-agent", lifespan=lifespan, docs_url=None, redoc_url=None)
    handled = (Refusal, OncallAgentError)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's own answer echoes the input, and input holding a lone surrogate cannot be encoded (a 500 with
        # a traceback). Say what is wrong and where, ASCII-escaped, without the input.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        body = json.dumps({"error": "bad_request", "detail": errors}, ensure_ascii=True, default=str)
        return Response(body, status_code=422, media_type="application/json")

    @app.post("/webhooks/sns")
    async def sns_webhook(request: Request) -> JSONResponse:
        started = time.perf_counter()
        try:
            message = await _read_json(request, max_body_bytes, SNS_CONTENT_TYPES, body_timeout_seconds)
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
            payload = await _read_json(request, max_body_bytes, EVENTBRIDGE_CONTENT_TYPES, body_timeout_seconds)
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
        body = generate_latest(metrics.registry) + generate_latest(LIFECYCLE_REGISTRY)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
