"""GitHub stand-in route for team membership, as the agent checks a `/approve` commenter's team live.

`GET /orgs/{org}/teams/{team_slug}/memberships/{username}` answers like GitHub: 200 with `url`, `role`
(`member` or `maintainer`) and `state` (`active`, or `pending` while the invitation is open); 404
`{"message": "Not Found"}` when the team does not exist or the user is not in it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from oncall_agent.sandbox.standins.github_http import base_of, not_found
from oncall_agent.sandbox.standins.github_state import GitHubState


def build_team_router(state: GitHubState) -> APIRouter:
    router = APIRouter()

    @router.get("/orgs/{org}/teams/{team_slug}/memberships/{username}")
    def team_membership(request: Request, org: str, team_slug: str, username: str) -> JSONResponse:
        found = state.team_membership(org, team_slug, username)
        if found is None:
            raise not_found()
        team_id, role, membership = found
        url = f"{base_of(request)}/organizations/1/team/{team_id}/memberships/{username}"  # one organization id
        return JSONResponse({"url": url, "role": role, "state": membership})

    return router
