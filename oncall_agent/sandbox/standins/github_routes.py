"""GitHub stand-in routes for users, repositories, commits, pulls, deployments, labels and permissions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from oncall_agent.sandbox.standins.github_http import (
    GitHubError,
    base_of,
    json_object,
    not_found,
    paginate,
    parse_iso,
    validation_failed,
)
from oncall_agent.sandbox.standins.github_model import GhCommit, GhRepo
from oncall_agent.sandbox.standins.github_render import (
    commit_json,
    deployment_json,
    deployment_status_json,
    label_json,
    pull_files_json,
    pull_json,
    repo_json,
    user_json,
)
from oncall_agent.sandbox.standins.github_state import GitHubState

# `permission` reports the legacy level; `role_name` the role as granted.
_LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}


def find_repo(state: GitHubState, owner: str, name: str) -> GhRepo:
    repo = state.repo(f"{owner}/{name}")
    if repo is None:
        raise not_found()
    return repo


def page_response(request: Request, items: list[Any]) -> JSONResponse:
    page, headers = paginate(request, items)
    return JSONResponse(page, headers=headers)


def _commit_or_422(repo: GhRepo, sha: str) -> GhCommit:
    commit = repo.find_commit(sha)
    if commit is None:
        raise GitHubError(422, f"No commit found for SHA: {sha}")
    return commit


def _filter_commits(repo: GhRepo, request: Request) -> list[GhCommit]:
    params = request.query_params
    if not repo.commits:
        raise GitHubError(409, "Git Repository is empty.")
    commits = list(repo.commits)
    ref = params.get("sha")
    if ref and ref != repo.default_branch:
        head = _commit_or_422(repo, ref)
        commits = commits[: commits.index(head) + 1]
    if params.get("since"):
        since = parse_iso(params["since"], "since")
        commits = [commit for commit in commits if commit.at >= since]
    if params.get("until"):
        until = parse_iso(params["until"], "until")
        commits = [commit for commit in commits if commit.at <= until]
    if params.get("path"):
        prefix = params["path"].strip("/")
        commits = [c for c in commits if any(f == prefix or f.startswith(prefix + "/") for f in c.files)]
    if params.get("author"):
        author = params["author"].lower()
        commits = [commit for commit in commits if commit.author.lower() == author]
    return commits[::-1]


def build_repo_router(state: GitHubState) -> APIRouter:
    """Routes over repositories and what hangs off them (except issues: see `github_issues`)."""
    router = APIRouter()

    @router.get("/user")
    def get_viewer(request: Request) -> JSONResponse:
        return JSONResponse(user_json(base_of(request), state.viewer))

    @router.get("/users/{login}")
    def get_user(request: Request, login: str) -> JSONResponse:
        return JSONResponse(user_json(base_of(request), login))

    @router.get("/repos/{owner}/{name}")
    def get_repo(request: Request, owner: str, name: str) -> JSONResponse:
        with state.lock:
            return JSONResponse(repo_json(base_of(request), find_repo(state, owner, name)))

    _add_commit_routes(router, state)
    _add_pull_routes(router, state)
    _add_deployment_routes(router, state)
    _add_label_and_permission_routes(router, state)
    return router


def _add_commit_routes(router: APIRouter, state: GitHubState) -> None:
    @router.get("/repos/{owner}/{name}/commits")
    def list_commits(request: Request, owner: str, name: str) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            base = base_of(request)
            page, headers = paginate(request, _filter_commits(repo, request))
            return JSONResponse([commit_json(base, repo, commit) for commit in page], headers=headers)

    @router.get("/repos/{owner}/{name}/commits/{sha}")
    def get_commit(request: Request, owner: str, name: str, sha: str) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            commit = _commit_or_422(repo, sha)
            return JSONResponse(commit_json(base_of(request), repo, commit, detail=True))

    @router.get("/repos/{owner}/{name}/commits/{sha}/pulls")
    def commit_pulls(request: Request, owner: str, name: str, sha: str) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            commit = _commit_or_422(repo, sha)
            pulls = [p for p in repo.pulls.values() if p.number == commit.pr or p.head_sha == commit.sha]
            pulls.sort(key=lambda pull: pull.number, reverse=True)
            return page_response(request, [pull_json(base_of(request), repo, pull) for pull in pulls])


def _add_pull_routes(router: APIRouter, state: GitHubState) -> None:
    @router.get("/repos/{owner}/{name}/pulls")
    def list_pulls(request: Request, owner: str, name: str) -> JSONResponse:
        wanted = request.query_params.get("state", "open")
        with state.lock:
            repo = find_repo(state, owner, name)
            pulls = sorted(repo.pulls.values(), key=lambda pull: pull.number, reverse=True)
            chosen = [p for p in pulls if wanted == "all" or repo.issues[p.number].state == wanted]
            return page_response(request, [pull_json(base_of(request), repo, pull) for pull in chosen])

    @router.get("/repos/{owner}/{name}/pulls/{number:int}")
    def get_pull(request: Request, owner: str, name: str, number: int) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            if number not in repo.pulls:
                raise not_found()
            return JSONResponse(pull_json(base_of(request), repo, repo.pulls[number]))

    @router.get("/repos/{owner}/{name}/pulls/{number:int}/files")
    def pull_files(request: Request, owner: str, name: str, number: int) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            if number not in repo.pulls:
                raise not_found()
            return page_response(request, pull_files_json(base_of(request), repo, repo.pulls[number]))


def _add_deployment_routes(router: APIRouter, state: GitHubState) -> None:
    @router.get("/repos/{owner}/{name}/deployments")
    def list_deployments(request: Request, owner: str, name: str) -> JSONResponse:
        params = request.query_params
        with state.lock:
            repo = find_repo(state, owner, name)
            found = sorted(repo.deployments, key=lambda d: (d.created_at, d.id), reverse=True)
            for key in ("sha", "ref", "task", "environment"):
                if params.get(key):
                    found = [d for d in found if str(getattr(d, key)).lower() == params[key].lower()]
            return page_response(request, [deployment_json(base_of(request), repo, d) for d in found])

    @router.get("/repos/{owner}/{name}/deployments/{deployment_id:int}")
    def get_deployment(request: Request, owner: str, name: str, deployment_id: int) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            for deployment in repo.deployments:
                if deployment.id == deployment_id:
                    return JSONResponse(deployment_json(base_of(request), repo, deployment))
            raise not_found()

    @router.get("/repos/{owner}/{name}/deployments/{deployment_id:int}/statuses")
    def deployment_statuses(request: Request, owner: str, name: str, deployment_id: int) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            for deployment in repo.deployments:
                if deployment.id == deployment_id:
                    return page_response(request, [deployment_status_json(base_of(request), repo, deployment)])
            raise not_found()


def _add_label_and_permission_routes(router: APIRouter, state: GitHubState) -> None:
    @router.get("/repos/{owner}/{name}/labels")
    def list_labels(request: Request, owner: str, name: str) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            labels = sorted(repo.labels.values(), key=lambda label: label.name.lower())
            return page_response(request, [label_json(base_of(request), repo, label) for label in labels])

    @router.get("/repos/{owner}/{name}/labels/{label:path}")
    def get_label(request: Request, owner: str, name: str, label: str) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            if label.lower() not in repo.labels:
                raise not_found()
            return JSONResponse(label_json(base_of(request), repo, repo.labels[label.lower()]))

    @router.post("/repos/{owner}/{name}/labels")
    async def create_label(request: Request, owner: str, name: str) -> JSONResponse:
        data = await json_object(request)
        label_name = data.get("name")
        if not isinstance(label_name, str) or not label_name:
            raise validation_failed("Label", "name")
        with state.lock:
            repo = find_repo(state, owner, name)
            color, description = str(data.get("color", "ededed")), str(data.get("description") or "")
            label = state.create_label(repo.full_name, label_name, color.lstrip("#"), description)
            if label is None:
                raise validation_failed("Label", "name", "already_exists")
            return JSONResponse(label_json(base_of(request), repo, label), 201)

    @router.get("/repos/{owner}/{name}/collaborators/{login}/permission")
    def permission(request: Request, owner: str, name: str, login: str) -> JSONResponse:
        with state.lock:
            repo = find_repo(state, owner, name)
            role = repo.permissions.get(login.lower(), "none")
        level = _LEGACY_PERMISSION.get(role, "none")
        return JSONResponse({"permission": level, "role_name": role, "user": user_json(base_of(request), login)})
