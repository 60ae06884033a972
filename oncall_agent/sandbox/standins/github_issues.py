"""GitHub stand-in routes for issues, issue comments, issue labels and issue search."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from oncall_agent.sandbox.standins.github_http import (
    JSON,
    GitHubError,
    base_of,
    json_object,
    not_found,
    paginate,
    parse_iso,
    validation_failed,
)
from oncall_agent.sandbox.standins.github_model import GhIssue, GhRepo
from oncall_agent.sandbox.standins.github_render import comment_json, issue_json, label_json
from oncall_agent.sandbox.standins.github_routes import find_repo, page_response
from oncall_agent.sandbox.standins.github_search import matches, parse_query
from oncall_agent.sandbox.standins.github_state import GitHubState

_SORT_KEYS = {
    "created": lambda issue: (issue.created_at, issue.number),
    "updated": lambda issue: (issue.updated_at, issue.number),
    "comments": lambda issue: (len(issue.comments), issue.number),
}


def _find_issue(repo: GhRepo, number: int) -> GhIssue:
    issue = repo.issues.get(number)
    if issue is None:
        raise not_found()
    return issue


def _string_list(value: Any, resource: str, field: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    names = [item.get("name") if isinstance(item, dict) else item for item in items]
    if not all(isinstance(name, str) and name for name in names):
        raise validation_failed(resource, field, "invalid")
    return [str(name) for name in names]


async def _label_names(request: Request) -> list[str]:
    """A labels body: `["a", "b"]`, `{"labels": [...]}` or `{"labels": [{"name": ...}]}`."""
    try:
        data = await request.json()
    except ValueError as exc:
        raise GitHubError(400, "Problems parsing JSON") from exc
    if isinstance(data, dict):
        data = data.get("labels", [])
    return _string_list(data, "Label", "labels")


def _filter_issues(repo: GhRepo, request: Request) -> list[GhIssue]:
    params = request.query_params
    wanted = params.get("state", "open")
    issues = [issue for issue in repo.issues.values() if wanted in {"all", issue.state}]
    if params.get("labels"):
        required = {name.strip().lower() for name in params["labels"].split(",") if name.strip()}
        issues = [i for i in issues if required <= {label.lower() for label in i.labels}]
    if params.get("since"):
        since = parse_iso(params["since"], "since")
        issues = [issue for issue in issues if issue.updated_at >= since]
    if params.get("creator"):
        issues = [issue for issue in issues if issue.author.lower() == params["creator"].lower()]
    if params.get("assignee") and params["assignee"] != "*":
        issues = [i for i in issues if params["assignee"].lower() in (a.lower() for a in i.assignees)]
    key = _SORT_KEYS.get(params.get("sort", "created"), _SORT_KEYS["created"])
    return sorted(issues, key=key, reverse=params.get("direction", "desc") != "asc")


def build_issue_router(state: GitHubState) -> APIRouter:
    """Issue routes; comment and search routes are added by helpers below."""
    router = APIRouter()

    @router.get("/repos/{owner}/{name}/issues")
    def list_issues(request: Request, owner: str, name: str) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            found = _filter_issues(repo, request)
            return page_response(request, [issue_json(base_of(request), repo, issue) for issue in found])

    @router.post("/repos/{owner}/{name}/issues")
    async def create_issue(request: Request, owner: str, name: str) -> JSONResponse:
        data = await json_object(request)
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            raise validation_failed("Issue", "title")
        labels = _string_list(data.get("labels") or [], "Issue", "labels")
        assignees = _string_list(data.get("assignees") or [], "Issue", "assignees")
        with state.lock:
            repo = find_repo(state, owner, name)
            issue = state.create_issue(repo.full_name, title, str(data.get("body") or ""), labels, assignees)
            body = issue_json(base_of(request), repo, issue)
        return JSONResponse(body, 201, headers={"Location": body["url"]})

    @router.get("/repos/{owner}/{name}/issues/{number:int}")
    def get_issue(request: Request, owner: str, name: str, number: int) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            return JSONResponse(issue_json(base_of(request), repo, _find_issue(repo, number)))

    _add_issue_edit_route(router, state)
    _add_issue_label_routes(router, state)
    _add_comment_routes(router, state)
    _add_search_route(router, state)
    return router


def _add_issue_edit_route(router: APIRouter, state: GitHubState) -> None:
    @router.patch("/repos/{owner}/{name}/issues/{number:int}")
    async def edit_issue(request: Request, owner: str, name: str, number: int) -> JSONResponse:
        data = await json_object(request)
        if "state" in data and data["state"] not in {"open", "closed"}:
            raise validation_failed("Issue", "state", "invalid")
        changes: dict[str, object] = {k: data[k] for k in ("title", "body", "state", "state_reason") if k in data}
        if "assignees" in data:
            changes["assignees"] = _string_list(data["assignees"] or [], "Issue", "assignees")
        with state.lock:
            repo = find_repo(state, owner, name)
            issue = _find_issue(repo, number)
            state.update_issue(issue, **changes)
            if "labels" in data:
                names = _string_list(data["labels"] or [], "Issue", "labels")
                state.set_labels(repo.full_name, issue, names, replace=True)
            return JSONResponse(issue_json(base_of(request), repo, issue))

    @router.post("/repos/{owner}/{name}/issues/{number:int}/assignees", status_code=201)
    async def add_assignees(request: Request, owner: str, name: str, number: int) -> JSONResponse:
        """Adds logins (GitHub's semantics: already assigned ones stay, nobody is removed)."""
        data = await json_object(request)
        added = _string_list(data.get("assignees") or [], "Issue", "assignees")
        with state.lock:
            repo = find_repo(state, owner, name)
            issue = _find_issue(repo, number)
            state.update_issue(issue, assignees=issue.assignees + [a for a in added if a not in issue.assignees])
            return JSONResponse(issue_json(base_of(request), repo, issue), status_code=201)


def _add_issue_label_routes(router: APIRouter, state: GitHubState) -> None:
    def labels_of(request: Request, repo: GhRepo, issue: GhIssue) -> JSONResponse:
        base = base_of(request)
        return JSONResponse([label_json(base, repo, repo.labels[name.lower()]) for name in issue.labels])

    @router.get("/repos/{owner}/{name}/issues/{number:int}/labels")
    def get_labels(request: Request, owner: str, name: str, number: int) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            return labels_of(request, repo, _find_issue(repo, number))

    @router.api_route("/repos/{owner}/{name}/issues/{number:int}/labels", methods=["POST", "PUT"])
    async def add_labels(request: Request, owner: str, name: str, number: int) -> JSONResponse:
        names = await _label_names(request)
        with state.lock:
            repo = find_repo(state, owner, name)
            issue = _find_issue(repo, number)
            state.set_labels(repo.full_name, issue, names, replace=request.method == "PUT")
            return labels_of(request, repo, issue)

    @router.delete("/repos/{owner}/{name}/issues/{number:int}/labels")
    def remove_all_labels(owner: str, name: str, number: int) -> Response:
        with state.lock:
            repo = find_repo(state, owner, name)
            state.set_labels(repo.full_name, _find_issue(repo, number), [], replace=True)
        return Response(status_code=204)

    @router.delete("/repos/{owner}/{name}/issues/{number:int}/labels/{label:path}")
    def remove_label(request: Request, owner: str, name: str, number: int, label: str) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            issue = _find_issue(repo, number)
            remaining = [existing for existing in issue.labels if existing.lower() != label.lower()]
            if len(remaining) == len(issue.labels):
                raise GitHubError(404, "Label does not exist")
            state.set_labels(repo.full_name, issue, remaining, replace=True)
            return labels_of(request, repo, issue)


def _add_comment_routes(router: APIRouter, state: GitHubState) -> None:
    @router.get("/repos/{owner}/{name}/issues/{number:int}/comments")
    def list_comments(request: Request, owner: str, name: str, number: int) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            comments = list(_find_issue(repo, number).comments)
            if request.query_params.get("since"):
                since = parse_iso(request.query_params["since"], "since")
                comments = [comment for comment in comments if comment.updated_at >= since]
            return page_response(request, [comment_json(base_of(request), repo, c) for c in comments])

    @router.post("/repos/{owner}/{name}/issues/{number:int}/comments")
    async def create_comment(request: Request, owner: str, name: str, number: int) -> JSONResponse:
        body = (await json_object(request)).get("body")
        if not isinstance(body, str) or not body:
            raise validation_failed("IssueComment", "body")
        with state.lock:
            repo = find_repo(state, owner, name)
            _find_issue(repo, number)
            comment = state.create_comment(repo.full_name, number, body)
            data = comment_json(base_of(request), repo, comment)
        return JSONResponse(data, 201, headers={"Location": data["url"]})

    @router.get("/repos/{owner}/{name}/issues/comments/{comment_id:int}")
    def get_comment(request: Request, owner: str, name: str, comment_id: int) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            comment = state.find_comment(repo.full_name, comment_id)
            if comment is None:
                raise not_found()
            return JSONResponse(comment_json(base_of(request), repo, comment))

    @router.patch("/repos/{owner}/{name}/issues/comments/{comment_id:int}")
    async def edit_comment(request: Request, owner: str, name: str, comment_id: int) -> JSONResponse:
        body = (await json_object(request)).get("body")
        if not isinstance(body, str) or not body:
            raise validation_failed("IssueComment", "body")
        with state.lock:
            repo = find_repo(state, owner, name)
            comment = state.find_comment(repo.full_name, comment_id)
            if comment is None:
                raise not_found()
            comment.body, comment.updated_at = body, state.stamp_now()
            return JSONResponse(comment_json(base_of(request), repo, comment))


def _add_search_route(router: APIRouter, state: GitHubState) -> None:
    @router.get("/search/issues")
    def search_issues(request: Request) -> JSONResponse:
        query = parse_query(request.query_params.get("q", ""))
        if query.empty:
            raise GitHubError(422, "Validation Failed", [{"resource": "Search", "field": "q", "code": "missing"}])
        now = time.monotonic()
        base = base_of(request)
        with state.lock:
            hits: list[JSON] = []
            for repo in state.all_repos():
                for issue in repo.issues.values():
                    if issue.searchable_after <= now and matches(query, repo.full_name, issue):
                        hits.append({**issue_json(base, repo, issue), "score": 1.0})
        hits.sort(key=lambda hit: (hit["updated_at"], hit["id"]), reverse=request.query_params.get("order") != "asc")
        page, headers = paginate(request, hits)
        return JSONResponse({"total_count": len(hits), "incomplete_results": False, "items": page}, headers=headers)
