"""`/api`: approve or reject an action (bound to its digest), read incidents and actions.

Every request needs `Authorization: Bearer <token>`; the token names the approver (settings
`approvals.approvers` or the old `approvals.tokens`). Tokens are compared in constant time against every
configured one. A decision answers 403 when the approver is not in the action's group, 409 when the digest
does not match or the action is no longer waiting for a decision (a replay writes nothing), 404 when there is
no such action; every refusal is `{"detail": <reason>}`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from oncall_agent.domain.errors import InvalidTransition, OncallAgentError
from oncall_agent.response.approvals import ApprovalService, refusal_status, token_owner


class Decision(BaseModel):
    digest: str = Field(min_length=12, max_length=64, pattern=r"^[0-9a-f]+$")
    comment: str | None = Field(default=None, max_length=2000)


def approver_for(tokens: dict[str, str], header: str | None) -> str:
    if not header or not header.lower().startswith("bearer "):
        raise HTTPException(401, "missing bearer token")
    name = token_owner(tokens, header[7:].strip())
    if name is None:
        raise HTTPException(401, "unknown bearer token")
    return name


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
            action = await run_in_threadpool(
                partial(approvals.decide, action_id, body.digest, approve, who, "api", reason=body.comment)
            )
        except (OncallAgentError, InvalidTransition, LookupError) as exc:
            raise HTTPException(refusal_status(exc), str(exc)) from exc
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
