"""CloudTrail `LookupEvents` stand-in speaking the AWS JSON 1.1 protocol, so an unchanged
`boto3.client("cloudtrail", endpoint_url=BASE, region_name=...)` (and its paginator) works against it.

`POST /` with `X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents`. Events come
newest first, at most `MaxResults` (1-50, default 50) per page with an opaque `NextToken`. Errors use the AWS
JSON shape (`{"__type": ..., "message": ...}`, HTTP 400) so botocore raises `ClientError` with the AWS code.
A request must carry a SigV4 `Authorization` header (any credentials; signatures are not verified).
`delivery_lag_s` hides events younger than the lag, like CloudTrail's delivery delay of about five minutes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from oncall_agent.domain.time import as_utc
from oncall_agent.sandbox.standins.cloudtrail_event import CtEvent
from oncall_agent.sandbox.standins.faults import FaultInjector, FaultMiddleware

__all__ = ["CloudTrailState", "CtEvent", "cloudtrail_fault_body", "create_cloudtrail_app"]

TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
MEDIA_TYPE = "application/x-amz-json-1.1"
MAX_RESULTS = 50
HISTORY = timedelta(days=90)
_ATTRIBUTES = {
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
}


def _now() -> datetime:
    return datetime.now(UTC)


class CloudTrailState:
    """Thread-safe event history of any accounts and regions (lookups ignore both, like one trail)."""

    def __init__(self, *, clock: Callable[[], datetime] = _now, delivery_lag_s: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, CtEvent] = {}
        self.clock = clock
        self.delivery_lag_s = delivery_lag_s

    def add_event(
        self,
        event_id: str,
        event_name: str,
        event_source: str,
        at: datetime,
        username: str,
        resources: list[dict[str, str]],
        request_parameters: dict[str, Any],
        read_only: bool = False,
        access_key_id: str | None = None,
        aws_region: str = "us-east-1",
        account: str = "123456789012",
        *,
        response_elements: dict[str, Any] | None = None,
    ) -> None:
        """Record one management event (an existing `event_id` is replaced)."""
        key = access_key_id or "AKIA" + hashlib.sha256(username.encode()).hexdigest()[:16].upper()
        event = CtEvent(
            event_id,
            event_name,
            event_source,
            as_utc(at).replace(microsecond=0),
            username,
            [dict(r) for r in resources],
            dict(request_parameters),
            read_only,
            key,
            aws_region,
            account,
            response_elements,
        )
        with self._lock:
            self._events[event_id] = event

    def events(self) -> list[CtEvent]:
        """Every event, newest first (including ones still inside the delivery lag)."""
        with self._lock:
            return sorted(self._events.values(), key=lambda e: (e.at, e.event_id), reverse=True)

    def lookup(self, key: str | None, value: str | None, start: datetime, end: datetime) -> list[CtEvent]:
        visible_until = self.clock() - timedelta(seconds=self.delivery_lag_s)
        return [
            event
            for event in self.events()
            if start <= event.at <= end and event.at <= visible_until and (key is None or value in event.attribute(key))
        ]


class AwsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def response(self) -> JSONResponse:
        return _aws_response({"__type": self.code, "message": self.message}, self.status)


def _aws_response(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status, media_type=MEDIA_TYPE, headers={"x-amzn-RequestId": str(uuid.uuid4())})


def cloudtrail_fault_body(status: int) -> dict[str, Any]:
    """AWS JSON errors botocore retries: throttling for 429, service errors for 5xx."""
    if status == 429:
        return {"__type": "ThrottlingException", "message": "Rate exceeded"}
    if status == 503:
        return {"__type": "ServiceUnavailableException", "message": "Service unavailable"}
    return {
        "__type": "InternalFailure" if status >= 500 else "BadRequestException",
        "message": f"HTTP {status}",
    }


def _timestamp(value: Any, name: str) -> datetime:
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), UTC)
        return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except (ValueError, OverflowError, OSError) as exc:
        raise AwsError("SerializationException", f"Invalid timestamp for {name}: {value!r}") from exc


def _lookup_attribute(params: dict[str, Any]) -> tuple[str | None, str | None]:
    attributes = params.get("LookupAttributes") or []
    if not isinstance(attributes, list) or len(attributes) > 1:
        raise AwsError("InvalidLookupAttributesException", "You can only specify one lookup attribute.")
    if not attributes:
        return None, None
    key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
    if key not in _ATTRIBUTES:
        raise AwsError("InvalidLookupAttributesException", f"Invalid AttributeKey: {key}")
    if not isinstance(value, str) or not 1 <= len(value) <= 2000:
        raise AwsError("InvalidLookupAttributesException", "AttributeValue must be 1 to 2000 characters.")
    return key, value


@dataclass(frozen=True)
class _Cursor:
    """Where a page starts; the window is fixed by the first page, so default bounds do not drift."""

    offset: int
    start: datetime
    end: datetime
    fingerprint: str

    def token(self) -> str:
        data = {"o": self.offset, "s": self.start.timestamp(), "e": self.end.timestamp(), "q": self.fingerprint}
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _cursor(params: dict[str, Any], key: str | None, value: str | None, now: datetime) -> _Cursor:
    raw = [key, value, params.get("StartTime"), params.get("EndTime"), params.get("EventCategory")]
    fingerprint = hashlib.sha256(json.dumps(raw, default=str).encode()).hexdigest()[:16]
    token = params.get("NextToken")
    if token is None:
        start = _timestamp(params["StartTime"], "StartTime") if "StartTime" in params else now - HISTORY
        end = _timestamp(params["EndTime"], "EndTime") if "EndTime" in params else now
        return _Cursor(0, start, end, fingerprint)
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        if data["q"] != fingerprint:
            raise ValueError("token belongs to another query")
        start, end = (datetime.fromtimestamp(float(data[k]), UTC) for k in ("s", "e"))
        return _Cursor(int(data["o"]), start, end, fingerprint)
    except (ValueError, KeyError, TypeError) as exc:
        raise AwsError("InvalidNextTokenException", "Invalid NextToken.") from exc


def lookup_events(state: CloudTrailState, params: dict[str, Any]) -> dict[str, Any]:
    """Answer one LookupEvents call (the operation's logic, independent of HTTP)."""
    key, value = _lookup_attribute(params)
    cursor = _cursor(params, key, value, state.clock())
    if cursor.start > cursor.end:
        raise AwsError("InvalidTimeRangeException", "Start time must be earlier than end time.")
    limit = params.get("MaxResults", MAX_RESULTS)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
        raise AwsError("InvalidMaxResultsException", f"MaxResults must be between 1 and {MAX_RESULTS}.")
    category = params.get("EventCategory")
    if category not in {None, "insight"}:
        raise AwsError("InvalidEventCategoryException", f"Invalid EventCategory: {category}")
    found = [] if category == "insight" else state.lookup(key, value, cursor.start, cursor.end)
    offset = cursor.offset
    answer: dict[str, Any] = {"Events": [event.wire() for event in found[offset : offset + limit]]}
    if offset + limit < len(found):
        answer["NextToken"] = _Cursor(offset + limit, cursor.start, cursor.end, cursor.fingerprint).token()
    return answer


def create_cloudtrail_app(state: CloudTrailState, faults: FaultInjector) -> FastAPI:
    """The FastAPI app answering CloudTrail JSON 1.1 calls from `state`."""
    app = FastAPI(title="CloudTrail stand-in", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/")
    async def dispatch(request: Request) -> JSONResponse:
        try:
            if not request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256"):
                raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token")
            target = request.headers.get("x-amz-target", "")
            if target != TARGET_PREFIX + "LookupEvents":
                raise AwsError("UnknownOperationException", f"Unknown operation {target or '(none)'}")
            try:
                params = json.loads(await request.body() or b"{}")
            except ValueError as exc:
                raise AwsError("SerializationException", "Request body is not valid JSON") from exc
            if not isinstance(params, dict):
                raise AwsError("SerializationException", "Request body must be a JSON object")
            return _aws_response(lookup_events(state, params))
        except AwsError as exc:
            return exc.response()

    app.add_middleware(FaultMiddleware, injector=faults, error_body=cloudtrail_fault_body, media_type=MEDIA_TYPE)
    app.state.cloudtrail = state
    app.state.faults = faults
    return app
