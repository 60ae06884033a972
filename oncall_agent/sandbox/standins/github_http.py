"""GitHub REST conventions shared by the stand-in's routes: errors, JSON bodies, dates and pagination."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request

from oncall_agent.domain.time import parse_aws_timestamp

T = TypeVar("T")
JSON = dict[str, Any]


class GitHubError(Exception):
    """Answered as `{"message": ...}` (plus `errors` for 422), the way GitHub reports failures."""

    def __init__(self, status: int, message: str, errors: list[JSON] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def body(self) -> JSON:
        body: JSON = {"message": self.message, "documentation_url": "https://docs.github.com/rest"}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def not_found() -> GitHubError:
    return GitHubError(404, "Not Found")


def validation_failed(resource: str, field: str, code: str = "missing_field") -> GitHubError:
    return GitHubError(422, "Validation Failed", [{"resource": resource, "field": field, "code": code}])


async def json_object(request: Request) -> JSON:
    """The request body as a JSON object, or GitHub's 400 "Problems parsing JSON"."""
    try:
        data = await request.json()
    except ValueError as exc:
        raise GitHubError(400, "Problems parsing JSON") from exc
    if not isinstance(data, dict):
        raise GitHubError(400, "Problems parsing JSON")
    return data


def base_of(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str, name: str) -> datetime:
    try:
        return parse_aws_timestamp(value)
    except ValueError as exc:
        raise GitHubError(422, f"Invalid value for parameter '{name}': {value}") from exc


def paginate(request: Request, items: list[T]) -> tuple[list[T], dict[str, str]]:
    """Slice by `page`/`per_page` (default 30, max 100) and build the Link header GitHub sends."""
    params = request.query_params
    try:
        per_page = min(max(int(params.get("per_page", "30")), 1), 100)
        page = max(int(params.get("page", "1")), 1)
    except ValueError as exc:
        raise GitHubError(422, "Invalid pagination parameters") from exc
    last = max((len(items) + per_page - 1) // per_page, 1)
    links = []
    for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
        if (rel in {"prev", "first"} and page > 1) or (rel in {"next", "last"} and page < last):
            url = request.url.include_query_params(page=number, per_page=per_page)
            links.append(f'<{url}>; rel="{rel}"')
    headers = {"Link": ", ".join(links)} if links else {}
    return items[(page - 1) * per_page : page * per_page], headers
