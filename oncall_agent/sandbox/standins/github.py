"""GitHub REST stand-in: enough of the API for PyGithub, served from an in-memory `GitHubState`.

Reach it with `Github(base_url="http://127.0.0.1:PORT", auth=Auth.Token(token), retry=None)` (no `/api/v3`).
Wrong or missing token: 401 `{"message": "Bad credentials"}`; unknown things: 404 `{"message": "Not Found"}`;
invalid input: 422 `{"message": "Validation Failed", "errors": [...]}`. Pagination follows `page`/`per_page`
(default 30) with `Link` headers. Faults (see `faults`) answer in GitHub's error shape.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from oncall_agent.sandbox.standins.faults import FaultInjector, FaultMiddleware
from oncall_agent.sandbox.standins.github_http import GitHubError
from oncall_agent.sandbox.standins.github_issues import build_issue_router
from oncall_agent.sandbox.standins.github_model import (
    GhComment,
    GhCommit,
    GhDeployment,
    GhIssue,
    GhLabel,
    GhPull,
    GhRepo,
)
from oncall_agent.sandbox.standins.github_routes import build_repo_router
from oncall_agent.sandbox.standins.github_state import GitHubState
from oncall_agent.sandbox.standins.github_teams import build_team_router

__all__ = [
    "GhComment",
    "GhCommit",
    "GhDeployment",
    "GhIssue",
    "GhLabel",
    "GhPull",
    "GhRepo",
    "GitHubState",
    "create_github_app",
    "github_fault_body",
]


def github_fault_body(status: int) -> dict[str, Any]:
    """What GitHub answers for rate limits (403/429) and server errors."""
    if status in {403, 429}:
        message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    elif status >= 500:
        message = "Server Error"
    else:
        message = f"HTTP {status}"
    return {"message": message, "documentation_url": "https://docs.github.com/rest"}


def _token_checker(token: str) -> Any:
    def check(request: Request) -> None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in {"token", "bearer"} or value.strip() != token:
            raise GitHubError(401, "Bad credentials")

    return check


def create_github_app(state: GitHubState, faults: FaultInjector, token: str) -> FastAPI:
    """The FastAPI app serving `state` to clients presenting `token`."""
    app = FastAPI(title="GitHub stand-in", docs_url=None, redoc_url=None, openapi_url=None)
    auth = [Depends(_token_checker(token))]
    app.include_router(build_repo_router(state), dependencies=auth)
    app.include_router(build_issue_router(state), dependencies=auth)
    app.include_router(build_team_router(state), dependencies=auth)

    @app.exception_handler(GitHubError)
    async def github_error(_request: Request, exc: GitHubError) -> JSONResponse:
        return JSONResponse(exc.body(), exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code in {404, 405}:
            return JSONResponse({"message": "Not Found"}, 404)
        return JSONResponse({"message": str(exc.detail)}, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"resource": "Request", "field": ".".join(map(str, e["loc"])), "code": "invalid"} for e in exc.errors()
        ]
        return JSONResponse({"message": "Validation Failed", "errors": errors}, 422)

    app.add_middleware(FaultMiddleware, injector=faults, error_body=github_fault_body)
    app.state.github = state
    app.state.faults = faults
    return app
