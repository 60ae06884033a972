"""The web console: incidents, one incident, the agent's health, approve/reject, sign-in and sign-out.

Server-rendered (Jinja2, plain forms, no scripts). A decision goes through the same ApprovalService as the API
(bound to the digest shown on the page; 403 with the reason when the person is not in the action's group, 409
when the action is already decided), after the CSRF token and the Origin are checked.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from oncall_agent.domain.errors import InvalidTransition, OncallAgentError
from oncall_agent.response.approvals import ApprovalService, NotAnApprover
from oncall_agent.store.actions import ActionError
from oncall_agent.web.console_auth import CSRF_FIELD, ConsoleAuth, ConsoleUser, SignInRefused
from oncall_agent.web.console_sign_in import add_sign_in_routes, form_of, page, refuser, user_getter
from oncall_agent.web.console_views import ConsoleReader, utc_now


def console_router(auth: ConsoleAuth, reader: ConsoleReader, approvals: ApprovalService) -> APIRouter:
    router = APIRouter()
    add_sign_in_routes(router, auth)
    refused, signed_in = refuser(auth), user_getter(auth)

    @router.get("/", response_class=HTMLResponse)
    async def incidents(request: Request) -> Response:
        try:
            user = signed_in(request)
        except SignInRefused as exc:
            return refused(request, exc)
        rows = await run_in_threadpool(reader.incidents, utc_now())
        health = await run_in_threadpool(reader.health)
        return page(request, "incidents.html", incidents=rows, health=health, user=user)

    @router.get("/incidents/{incident_id}", response_class=HTMLResponse)
    async def incident(request: Request, incident_id: str) -> Response:
        try:
            user = signed_in(request)
        except SignInRefused as exc:
            return refused(request, exc)
        return await show_incident(request, user, incident_id)

    async def show_incident(
        request: Request, user: ConsoleUser, incident_id: str, status: int = 200, error: str = ""
    ) -> Response:
        view = await run_in_threadpool(reader.incident, incident_id, utc_now())
        if view is None:
            message = f"no incident {incident_id}"
            return page(request, "message.html", 404, title="Not found", message=message, user=user)
        return page(request, "incident.html", status, incident=view, user=user, error=error)

    @router.post("/actions/{action_id}/decide", response_class=HTMLResponse)
    async def decide(request: Request, action_id: str) -> Response:
        form = await form_of(request)
        try:
            user = signed_in(request)
            auth.check_post(request, user.name, form.get(CSRF_FIELD))
        except SignInRefused as exc:
            return refused(request, exc, 403)
        if form.get("decision") not in {"approve", "reject"}:
            message = "the form must say decision=approve or decision=reject"
            return page(request, "message.html", 400, title="Bad request", message=message, user=user)
        approve = form.get("decision") == "approve"
        try:
            action, _group = await run_in_threadpool(approvals.group_of, action_id)
        except (OncallAgentError, LookupError) as exc:
            return page(request, "message.html", 404, title="Not found", message=str(exc), user=user)
        try:
            if user.approver is None:
                raise NotAnApprover(f"{user.name} is not mapped to an approver (console.oidc settings)")
            await run_in_threadpool(
                approvals.decide, action_id, form.get("digest", ""), approve, user.approver, f"console ({user.via})"
            )
        except NotAnApprover as exc:
            return await show_incident(request, user, action.incident_id, 403, error=str(exc))
        except (ActionError, InvalidTransition) as exc:  # wrong digest, decided already, expired
            return await show_incident(request, user, action.incident_id, 409, error=str(exc))
        except OncallAgentError as exc:  # the store is down: nothing was decided, trying again may work
            message = f"nothing was decided, try again: {exc}"
            return page(request, "message.html", 503, title="Unavailable", message=message, user=user)
        verb = "approved" if approve else "rejected"
        return RedirectResponse(f"/incidents/{action.incident_id}?done={verb}", status_code=303)

    return router
