"""Console plumbing shared by its pages, and the local sign-in / sign-out routes (approver tokens)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from oncall_agent.response.approvals import token_owner
from oncall_agent.web.console_auth import CSRF_FIELD, ConsoleAuth, ConsoleUser, SignInRefused

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
MAX_FORM_BYTES = 8 * 1024
SIGN_IN_SUBJECT = "sign-in"  # the CSRF subject of the sign-in form (no one is signed in yet)
NOT_SIGNED_IN = "not signed in"


async def form_of(request: Request) -> dict[str, str]:
    """The url-encoded form fields (first value each); an oversized body gives no fields (the checks refuse)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=20).items()}


# No scripts, no framing (the approve button must not be clickjacked), forms only to this site, nothing cached.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status, headers=SECURITY_HEADERS)


def refuser(auth: ConsoleAuth) -> Callable[..., Response]:
    def refused(request: Request, exc: SignInRefused, status: int = 401) -> Response:
        if str(exc) == NOT_SIGNED_IN and auth.local_sign_in:
            return RedirectResponse("/sign-in", status_code=303)
        title = "Not signed in" if status == 401 else "Refused"
        return page(request, "message.html", status, title=title, message=str(exc), user=None)

    return refused


def user_getter(auth: ConsoleAuth) -> Callable[[Request], ConsoleUser]:
    def signed_in(request: Request) -> ConsoleUser:
        user = auth.user(request)
        request.state.csrf = auth.csrf_token(user.name)  # the forms on the page carry it
        return user

    return signed_in


def add_sign_in_routes(router: APIRouter, auth: ConsoleAuth) -> None:
    refused, signed_in = refuser(auth), user_getter(auth)

    @router.get("/sign-in", response_class=HTMLResponse)
    async def sign_in_form(request: Request) -> Response:
        if not auth.local_sign_in:
            return page(request, "message.html", 404, title="Sign-in", message="local sign-in is off", user=None)
        return page(request, "sign_in.html", user=None, csrf=auth.csrf_token(SIGN_IN_SUBJECT), error="")

    @router.post("/sign-in", response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        form = await form_of(request)
        if auth.tokens is None:
            return page(request, "message.html", 404, title="Sign-in", message="local sign-in is off", user=None)
        try:
            auth.check_post(request, SIGN_IN_SUBJECT, form.get(CSRF_FIELD))
        except SignInRefused as exc:
            return page(request, "message.html", 403, title="Refused", message=str(exc), user=None)
        name = token_owner(auth.tokens(), form.get("token", "").strip())
        if name is None:
            csrf = auth.csrf_token(SIGN_IN_SUBJECT)
            return page(request, "sign_in.html", 401, user=None, csrf=csrf, error="unknown approver token")
        response = RedirectResponse("/", status_code=303)
        auth.start_session(response, name)
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        form = await form_of(request)
        try:
            user = signed_in(request)
            auth.check_post(request, user.name, form.get(CSRF_FIELD))
        except SignInRefused as exc:
            return refused(request, exc, 403)
        response = RedirectResponse("/sign-in" if auth.local_sign_in else "/", status_code=303)
        auth.end_session(response)
        return response
