"""AWS Health stand-in speaking the JSON 1.1 protocol (`X-Amz-Target: AWSHealth_20160804.<Operation>`), so an
unchanged `boto3.client("health", endpoint_url=BASE, region_name="us-east-1")` and its paginators work.

Operations: `DescribeEvents` (filter, maxResults 10-100, nextToken), `DescribeAffectedEntities` (filter with
`eventArns`), `DescribeEventDetails` (`eventArns`: the description is where Health puts the message). moto has
no Health API; this is the API's shape over `HealthState`. Errors use the AWS JSON shape, HTTP 400. A request
must carry a SigV4 `Authorization` header (any credentials; signatures are not verified).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from oncall_agent.domain.time import as_utc
from oncall_agent.sandbox.standins.cloudtrail import AwsError, cloudtrail_fault_body
from oncall_agent.sandbox.standins.faults import FaultInjector, FaultMiddleware
from oncall_agent.sandbox.standins.health_state import HealthEventRecord, HealthState

__all__ = ["HealthEventRecord", "HealthState", "create_health_app"]

TARGET_PREFIX = "AWSHealth_20160804."
MEDIA_TYPE = "application/x-amz-json-1.1"
PAGE_PREFIX = "page-"  # Health's nextToken is at least 4 characters long


def _time(value: Any) -> datetime:
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), UTC)
        return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except (ValueError, OverflowError, OSError) as exc:
        raise AwsError("SerializationException", f"Invalid timestamp: {value!r}") from exc


def _epoch(moment: datetime) -> float:
    return as_utc(moment).timestamp()


def _page(items: list[Any], params: dict[str, Any], low: int, high: int, default: int) -> tuple[list[Any], str | None]:
    limit = params.get("maxResults", default)
    if not isinstance(limit, int) or not low <= limit <= high:
        raise AwsError("ValidationException", f"maxResults must be between {low} and {high}")
    token = params.get("nextToken")
    try:
        offset = int(str(token).removeprefix(PAGE_PREFIX)) if token is not None else 0
    except ValueError as exc:
        raise AwsError("InvalidPaginationToken", "Invalid nextToken") from exc
    following = f"{PAGE_PREFIX}{offset + limit}" if offset + limit < len(items) else None
    return items[offset : offset + limit], following


def _event_wire(event: HealthEventRecord) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "arn": event.arn,
        "service": event.service,
        "eventTypeCode": event.type_code,
        "eventTypeCategory": event.category,
        "region": event.region,
        "startTime": _epoch(event.start),
        "lastUpdatedTime": _epoch(event.last_updated),
        "statusCode": event.status,
        "eventScopeCode": event.scope,
    }
    if event.end is not None:
        wire["endTime"] = _epoch(event.end)
    if event.availability_zone:
        wire["availabilityZone"] = event.availability_zone
    return wire


def describe_events(state: HealthState, params: dict[str, Any]) -> dict[str, Any]:
    found = state.matching(params.get("filter") or {}, _time)
    page, token = _page(found, params, 10, 100, 100)
    return {"events": [_event_wire(e) for e in page], **({"nextToken": token} if token else {})}


def _entity_wire(event: HealthEventRecord, value: str) -> dict[str, Any]:
    entity_id = uuid.uuid5(uuid.NAMESPACE_URL, event.arn + value).hex
    return {
        "entityArn": f"arn:aws:health:{event.region}:{event.account}:entity/{entity_id}",
        "eventArn": event.arn,
        "entityValue": value,
        "awsAccountId": event.account,
        "lastUpdatedTime": _epoch(event.last_updated),
        "statusCode": "RESOLVED" if event.status == "closed" else "IMPAIRED",
    }


def describe_affected_entities(state: HealthState, params: dict[str, Any]) -> dict[str, Any]:
    flt = params.get("filter") or {}
    arns = flt.get("eventArns")
    if not arns:
        raise AwsError("ValidationException", "filter.eventArns is required")
    values = set(flt.get("entityValues") or [])
    entities = []
    for arn in arns:
        event = state.by_arn(arn)
        if event is None:
            continue
        entities += [_entity_wire(event, value) for value in event.entities if not values or value in values]
    page, token = _page(entities, params, 1, 100, 100)
    return {"entities": page, **({"nextToken": token} if token else {})}


def describe_event_details(state: HealthState, params: dict[str, Any]) -> dict[str, Any]:
    arns = params.get("eventArns")
    if not arns or not isinstance(arns, list) or len(arns) > 10:
        raise AwsError("ValidationException", "eventArns must hold 1 to 10 event ARNs")
    successful, failed = [], []
    for arn in arns:
        event = state.by_arn(arn)
        if event is None:
            failed.append({"eventArn": arn, "errorName": "NotFound", "errorMessage": f"Event {arn} not found"})
            continue
        successful.append(
            {
                "event": _event_wire(event),
                "eventDescription": {"latestDescription": event.description},
                "eventMetadata": {},
            }
        )
    return {"successfulSet": successful, "failedSet": failed}


_OPERATIONS = {
    "DescribeEvents": describe_events,
    "DescribeAffectedEntities": describe_affected_entities,
    "DescribeEventDetails": describe_event_details,
}


def create_health_app(state: HealthState, faults: FaultInjector) -> FastAPI:
    """The FastAPI app answering AWS Health JSON 1.1 calls from `state`."""
    app = FastAPI(title="AWS Health stand-in", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/")
    async def dispatch(request: Request) -> JSONResponse:
        try:
            if not request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256"):
                raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token")
            target = request.headers.get("x-amz-target", "")
            operation = (
                _OPERATIONS.get(target.removeprefix(TARGET_PREFIX)) if target.startswith(TARGET_PREFIX) else None
            )
            if operation is None:
                raise AwsError("UnknownOperationException", f"Unknown operation {target or '(none)'}")
            try:
                params = json.loads(await request.body() or b"{}")
            except ValueError as exc:
                raise AwsError("SerializationException", "Request body is not valid JSON") from exc
            if not isinstance(params, dict):
                raise AwsError("SerializationException", "Request body must be a JSON object")
            body = operation(state, params)
            return JSONResponse(body, media_type=MEDIA_TYPE, headers={"x-amzn-RequestId": str(uuid.uuid4())})
        except AwsError as exc:
            return exc.response()

    app.add_middleware(FaultMiddleware, injector=faults, error_body=cloudtrail_fault_body, media_type=MEDIA_TYPE)
    app.state.health = state
    app.state.faults = faults
    return app
