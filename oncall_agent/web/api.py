"""`/api`: approve or reject an action (bound to its digest), read incidents and actions.

Every request needs `Authorization: Bearer <token>`; the token names the approver (settings
`approvals.tokens`). Tokens are compared in constant time against every configured one.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from oncall_agent.domain.errors import InvalidTransition, OncallAgentError
from oncall_agent.response.approvals import ApprovalService


class Decision(BaseModel):
    digest: str = Field(min_length=12, max_length=64, pattern=r"^[0-9a-f]+$")
    comment: str | None = Field(default=None, max_length=2000)


def approver_for(tokens: dict[str, str], header: str | None) -> str:
    if not header or not header.lower().startswith("bearer "):
        raise HTTPException(401, "missing bearer token")
    presented = header[7:].strip().encode()
    name = None
    for candidate, token in tokens.items():  # no early exit: timing does not reveal which token matched
        if hmac.compare_digest(presented, token.encode()):
            name = candidate
    if name is None:
        raise HTTPException(401, "unknown bearer token")
    return name


def _conflict_status(exc: Exception) -> int:
    if isinstance(exc, LookupError) or type(exc).__name__ in {"UnknownAction", "ActionNotFound"}:
        return 404
    return 409


def api_router(
    approvals: ApprovalService,
    tokens: dict[str, str],
    read_incident: Callable[[str], dict[str, Any] | None],
    list_incidents: Callable[[], list[dict[str, Any]]],
) -> APIRouter:
    router = APIRouter(prefix="/api")

    async def decide(request: Request, action_id: str, body: Decision, approve: bool) -> dict[str, Any]:
        who = approver_for(tokens, request.headers.get("authorization"))
        try:
            action = await run_in_threadpool(approvals.decide, action_id, body.digest, approve, who, "api")
        except (OncallAgentError, InvalidTransition, LookupError) as exc:
            raise HTTPException(_conflict_status(exc), str(exc)) from exc
        return action.model_dump(mode="json")

    @router.post("/actions/{action_id}/approve")
    async def approve(request: Request, action_id: str, body: Decision) -> dict[str, Any]:
        return await decide(request, action_id, body, approve=True)

    @router.post("/actions/{action_id}/reject")
    async def reject(request: Request, action_id: str, body: Decision) -> dict[str, Any]:
        return await decide(request, action_id, body, approve=False)

    @router.get("/incidents")
    async def incidents(request: Request) -> list[dict[str, Any]]:
        approver_for(tokens, request.headers.get("authorization"))
        return await run_in_threadpool(list_incidents)

    @router.get("/incidents/{incident_id}")
    async def incident(request: Request, incident_id: str) -> dict[str, Any]:
        approver_for(tokens, request.headers.get("authorization"))
        found = await run_in_threadpool(read_incident, incident_id)
        if found is None:
            raise HTTPException(404, f"no incident {incident_id}")
        return found

    return router
