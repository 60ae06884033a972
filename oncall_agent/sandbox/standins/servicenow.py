"""ServiceNow Table API stand-in (`/api/now/table/{table}`), served from an in-memory `ServiceNowState`.

Basic auth is required (401 otherwise). Responses wrap data in `{"result": ...}`; errors are
`{"error": {"message": ..., "detail": ...}, "status": "failure"}`. Lists honour `sysparm_query` (see
`servicenow_query`), `sysparm_limit`, `sysparm_offset`, `sysparm_fields` and `sysparm_display_value`
(`all` wraps each field as `{"display_value", "value"}`), and send `X-Total-Count` and `Link` headers.
Date-times are `YYYY-MM-DD HH:MM:SS` UTC.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from oncall_agent.sandbox.standins.faults import FaultInjector, FaultMiddleware
from oncall_agent.sandbox.standins.servicenow_query import parse_query
from oncall_agent.sandbox.standins.servicenow_state import DataPolicyError, ServiceNowState

__all__ = ["ServiceNowState", "create_servicenow_app", "servicenow_fault_body"]

_DEFAULT_LIMIT = 10000
_PREFIX = "/api/now/table"


class ServiceNowError(Exception):
    def __init__(self, status: int, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.detail = status, message, detail

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "detail": self.detail}, "status": "failure"}
        headers = {"WWW-Authenticate": 'BASIC realm="Service-now"'} if self.status == 401 else None
        return JSONResponse(body, self.status, headers=headers)


def servicenow_fault_body(status: int) -> dict[str, Any]:
    """What an instance answers when it throttles (429) or fails (5xx)."""
    if status == 429:
        error = {"message": "Rate limit exceeded", "detail": "Too many requests for this user; retry later"}
    else:
        error = {"message": f"HTTP {status}", "detail": "Injected fault"}
    return {"error": error, "status": "failure"}


def _auth_checker(users: Mapping[str, str]) -> Callable[[Request], str]:
    """Basic auth against `users` (name -> password); answers the authenticated user's name."""

    def check(request: Request) -> str:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        try:
            given_user, _, given_password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            given_user = given_password = ""
        found = None
        for user, password in users.items():  # every entry compared: timing says nothing about which matched
            if secrets.compare_digest(f"{given_user}:{given_password}", f"{user}:{password}"):
                found = user
        if scheme.lower() != "basic" or found is None:
            raise ServiceNowError(401, "User Not Authenticated", "Required to provide Auth information")
        return found

    return check


def _int_param(request: Request, name: str, default: int) -> int:
    try:
        return max(int(request.query_params.get(name, default)), 0)
    except ValueError:
        return default


def _shape(record: dict[str, str], request: Request) -> dict[str, Any]:
    """Apply `sysparm_fields` and `sysparm_display_value` to one record."""
    fields = [f.strip() for f in request.query_params.get("sysparm_fields", "").split(",") if f.strip()]
    chosen = {name: record.get(name, "") for name in fields} if fields else dict(record)
    if request.query_params.get("sysparm_display_value", "false").lower() == "all":
        return {name: {"display_value": value, "value": value} for name, value in chosen.items()}
    return chosen


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError as exc:
        raise ServiceNowError(400, "Exception while reading request", "The payload is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise ServiceNowError(400, "Exception while reading request", "The payload is not valid JSON.")
    return data


def _links(request: Request, offset: int, limit: int, total: int) -> str:
    pages = [("first", 0), ("last", max((total - 1) // limit, 0) * limit if limit else 0)]
    if offset + limit < total:
        pages.insert(0, ("next", offset + limit))
    if offset > 0:
        pages.insert(0, ("prev", max(offset - limit, 0)))
    urls = [(rel, request.url.include_query_params(sysparm_offset=o, sysparm_limit=limit)) for rel, o in pages]
    return ",".join(f'<{url}>;rel="{rel}"' for rel, url in urls)


def _missing() -> ServiceNowError:
    return ServiceNowError(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")


def _build_router(state: ServiceNowState, user: Callable[[Request], str]) -> APIRouter:
    router = APIRouter(prefix=_PREFIX)

    def known(table: str) -> None:
        if not state.has_table(table):
            raise ServiceNowError(400, f"Invalid table {table}")

    _add_read_routes(router, state, known)
    _add_write_routes(router, state, known, user)
    return router


def _add_read_routes(router: APIRouter, state: ServiceNowState, known: Callable[[str], None]) -> None:
    @router.get("/{table}")
    def list_records(request: Request, table: str) -> JSONResponse:
        known(table)
        found = state.query(table, parse_query(request.query_params.get("sysparm_query", ""), state.clock()))
        offset = _int_param(request, "sysparm_offset", 0)
        limit = _int_param(request, "sysparm_limit", _DEFAULT_LIMIT) or _DEFAULT_LIMIT
        page = [_shape(record, request) for record in found[offset : offset + limit]]
        headers = {"X-Total-Count": str(len(found)), "Link": _links(request, offset, limit, len(found))}
        return JSONResponse({"result": page}, headers=headers)

    @router.get("/{table}/{sys_id}")
    def get_record(request: Request, table: str, sys_id: str) -> JSONResponse:
        known(table)
        record = state.get(table, sys_id)
        if record is None:
            raise _missing()
        return JSONResponse({"result": _shape(record, request)})


def _add_write_routes(
    router: APIRouter, state: ServiceNowState, known: Callable[[str], None], auth: Callable[[Request], str]
) -> None:
    @router.post("/{table}")
    async def create_record(request: Request, table: str, user: str = Depends(auth)) -> JSONResponse:
        known(table)
        record = state.insert(table, await _body(request), user)
        location = f"{request.url.scheme}://{request.url.netloc}{_PREFIX}/{table}/{record['sys_id']}"
        return JSONResponse({"result": _shape(record, request)}, 201, headers={"Location": location})

    @router.api_route("/{table}/{sys_id}", methods=["PATCH", "PUT"])
    async def update_record(request: Request, table: str, sys_id: str, user: str = Depends(auth)) -> JSONResponse:
        known(table)
        fields = await _body(request)
        try:
            record = state.update(table, sys_id, fields, user)
        except DataPolicyError as exc:
            raise ServiceNowError(403, "Operation Failed", str(exc)) from exc
        if record is None:
            raise _missing()
        return JSONResponse({"result": _shape(record, request)})

    @router.delete("/{table}/{sys_id}")
    def delete_record(table: str, sys_id: str) -> Response:
        known(table)
        if not state.delete(table, sys_id):
            raise _missing()
        return Response(status_code=204)


def create_servicenow_app(
    state: ServiceNowState, faults: FaultInjector, user: str, password: str, people: Mapping[str, str] | None = None
) -> FastAPI:
    """The FastAPI app serving `state` to clients with Basic credentials `user`/`password`, or those of one of
    `people` (name -> password: the humans of a test, e.g. a change approver; their writes carry their name
    in `sys_updated_by`)."""
    app = FastAPI(title="ServiceNow stand-in", docs_url=None, redoc_url=None, openapi_url=None)
    auth = _auth_checker({**(people or {}), user: password})
    app.include_router(_build_router(state, auth), dependencies=[Depends(auth)])

    @app.exception_handler(ServiceNowError)
    async def servicenow_error(_request: Request, exc: ServiceNowError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code in {404, 405}:
            return ServiceNowError(400, "Requested URI does not represent any resource").response()
        return ServiceNowError(exc.status_code, str(exc.detail)).response()

    app.add_middleware(FaultMiddleware, injector=faults, error_body=servicenow_fault_body)
    app.state.servicenow = state
    app.state.faults = faults
    return app
