"""`POST /webhooks/github`: comment approvals. The signature is checked over the raw body before it is parsed
(an unset secret refuses every delivery); refusals follow the other webhooks (JSON `{"error", "detail"}`, a
counter bumped). A command's refusal answers like the API would (403 not an approver, 404 unknown action,
409 decided or another digest) after the agent's answering comment is queued."""

from __future__ import annotations

import json
import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from oncall_agent.domain.errors import OncallAgentError, SourceError
from oncall_agent.intake.github_signature import verify_github_signature
from oncall_agent.intake.json_shape import check_json_value
from oncall_agent.observability import IntakeMetrics, get_logger
from oncall_agent.response.comment_approvals import CommentApprovals
from oncall_agent.web.app import Refusal, _read_body, _refuse

log = get_logger(__name__)
CHANNEL = "github"


def github_router(
    comments: CommentApprovals,
    secret: str | None,
    metrics: IntakeMetrics,
    max_body_bytes: int,
    body_timeout_seconds: float,
) -> APIRouter:
    router = APIRouter()

    @router.post("/webhooks/github")
    async def github_webhook(request: Request) -> JSONResponse:
        started = time.perf_counter()
        try:
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                detail = f"content-type {media or '(none)'} is not application/json"
                raise Refusal(415, "unsupported_media_type", detail)
            body = await _read_body(request, max_body_bytes, body_timeout_seconds)
            verify_github_signature(secret, body, request.headers.get("x-hub-signature-256"))
            payload = _parse(body)
            outcome = await run_in_threadpool(comments.handle, request.headers.get("x-github-event"), payload)
        except SourceError as exc:  # GitHub did not answer (who the agent is): nothing was decided
            return _refuse(CHANNEL, metrics, Refusal(503, "github_unavailable", str(exc)))
        except (Refusal, OncallAgentError) as exc:
            return _refuse(CHANNEL, metrics, exc)
        delivery = request.headers.get("x-github-delivery", "")[:64]
        log.info("github_comment", delivery=delivery, outcome=outcome.outcome, detail=outcome.detail[:300])
        metrics.requests.labels(CHANNEL, outcome.outcome).inc()
        metrics.ack_seconds.labels(CHANNEL).observe(time.perf_counter() - started)
        if outcome.status >= 400:
            metrics.rejected.labels(CHANNEL, outcome.outcome).inc()
            return JSONResponse({"error": outcome.outcome, "detail": outcome.detail}, status_code=outcome.status)
        return JSONResponse({"status": outcome.outcome, "detail": outcome.detail})

    return router


def _parse(body: bytes) -> dict[str, object]:
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
