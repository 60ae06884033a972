"""Amazon Bedrock Runtime `Converse` stand-in (rest-json, `POST /model/{modelId}/converse`), so an unchanged
`boto3.client("bedrock-runtime", endpoint_url=BASE)` and `ChatBedrockConverse` over it talk to a scripted model.

Which script plays: a model id `sandbox.<script>` names it; any other model id plays `BedrockState.script`
(default `helpful`; `BedrockState.use(NAME)` changes it), except ids in `denied_models`
(AccessDeniedException, the answer for a model not enabled in the account) and `missing_models`
(ResourceNotFoundException). Requests are checked the way Bedrock checks them (ValidationException: no messages,
not starting with a user message, roles not alternating, tool blocks without `toolConfig`, a toolResult without
its toolUse, a forced tool not offered). Errors carry `x-amzn-ErrorType` and `{"message": ...}` with the
service's status (429, 403, 400, 408, 404, ...), so botocore raises `ClientError` with the AWS code. Usage is
counted as about four characters a token; `metrics.latencyMs` is the time the answer took, script delays included.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from oncall_agent.sandbox.standins.bedrock_scripts import Script, Turn, bundled_scripts, render, request_context
from oncall_agent.sandbox.standins.faults import FaultInjector, FaultMiddleware

__all__ = ["BedrockState", "ConverseCall", "create_bedrock_app"]

SCRIPT_PREFIX = "sandbox."
ERROR_STATUS = {
    "AccessDeniedException": 403,
    "ThrottlingException": 429,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
    "ValidationException": 400,
    "ModelNotReadyException": 429,
    "ModelErrorException": 424,
}
ERROR_MESSAGES = {
    "AccessDeniedException": "You don't have access to the model with the specified model ID.",
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "ResourceNotFoundException": "Model not found.",
    "ModelTimeoutException": "Model has timed out in processing the request. Try your request again.",
    "ServiceUnavailableException": "Bedrock is unable to process your request.",
}


class BedrockError(Exception):
    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or ERROR_MESSAGES.get(code, code))
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, code)

    def response(self) -> JSONResponse:
        status = ERROR_STATUS.get(self.code, 400)
        headers = {"x-amzn-ErrorType": f"{self.code}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
        return JSONResponse({"message": self.message}, status, headers={**headers, "x-amzn-RequestId": _request_id()})


def _request_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class ConverseCall:
    """One Converse request as the stand-in answered it (for tests and the eval's token figures)."""

    model_id: str
    script: str
    turn: int
    reply: str  # structured | text | tool_use | error
    status: int
    input_tokens: int
    output_tokens: int
    latency_ms: int


class BedrockState:
    """The scripts, which one plays, the models that fail, and the log of answered calls (thread-safe)."""

    def __init__(self, scripts: dict[str, Script] | None = None, script: str = "helpful") -> None:
        self.scripts = dict(scripts if scripts is not None else bundled_scripts())
        self._lock = threading.Lock()
        self._calls: list[ConverseCall] = []
        self.denied_models: set[str] = set()
        self.missing_models: set[str] = set()
        self.script = script
        self.use(script)

    def use(self, name: str) -> None:
        if name not in self.scripts:
            raise KeyError(f"no LLM script {name!r}; known: {', '.join(self.scripts)}")
        self.script = name

    def script_for(self, model_id: str) -> Script:
        if model_id in self.denied_models:
            raise BedrockError("AccessDeniedException")
        if model_id in self.missing_models:
            raise BedrockError("ResourceNotFoundException")
        name = model_id.removeprefix(SCRIPT_PREFIX) if model_id.startswith(SCRIPT_PREFIX) else self.script
        if name not in self.scripts:
            raise BedrockError("ValidationException", "The provided model identifier is invalid.")
        return self.scripts[name]

    def record(self, call: ConverseCall) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(self) -> list[ConverseCall]:
        with self._lock:
            return list(self._calls)


def _tool_use_ids(message: dict[str, Any]) -> set[str]:
    return {b["toolUse"]["toolUseId"] for b in message.get("content", []) if "toolUse" in b}


def validate_request(request: dict[str, Any]) -> None:
    """Bedrock's own checks on a Converse request, with its messages."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BedrockError("ValidationException", "A conversation must start with a user message.")
    roles = [m.get("role") for m in messages]
    if roles[0] != "user":
        raise BedrockError("ValidationException", "A conversation must start with a user message.")
    if any(a == b for a, b in itertools.pairwise(roles)) or set(roles) - {"user", "assistant"}:
        raise BedrockError("ValidationException", "A conversation must alternate between user and assistant roles.")
    tool_config = request.get("toolConfig")
    blocks = [b for m in messages for b in m.get("content", [])]
    if tool_config is None and any("toolUse" in b or "toolResult" in b for b in blocks):
        raise BedrockError(
            "ValidationException",
            "The toolConfig field must be defined when using toolUse and toolResult content blocks.",
        )
    for previous, message in itertools.pairwise(messages):
        asked = _tool_use_ids(previous)
        for block in message.get("content", []):
            if "toolResult" in block and block["toolResult"].get("toolUseId") not in asked:
                raise BedrockError("ValidationException", "A toolResult block does not match a preceding toolUse.")
    forced = ((tool_config or {}).get("toolChoice") or {}).get("tool", {}).get("name")
    offered = {t["toolSpec"]["name"] for t in (tool_config or {}).get("tools", []) if "toolSpec" in t}
    if forced is not None and forced not in offered:
        raise BedrockError("ValidationException", f"The tool {forced} in toolChoice is not in toolConfig.tools.")


def structured_tool(request: dict[str, Any]) -> str | None:
    """The tool the structured output goes through: the one forced, else the only one offered, if any."""
    config = request.get("toolConfig") or {}
    choice = config.get("toolChoice") or {}
    if "tool" in choice:
        return str(choice["tool"]["name"])
    tools = [t["toolSpec"]["name"] for t in config.get("tools", []) if "toolSpec" in t]
    # One tool and no forced choice (a model without tool_choice support): a model answers through it.
    return tools[0] if len(tools) == 1 else None


def _wants_json_text(request: dict[str, Any]) -> bool:
    text_format = (request.get("outputConfig") or {}).get("textFormat") or {}
    return text_format.get("type") == "json_schema"


def _tool_use(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"toolUse": {"toolUseId": "tooluse_" + uuid.uuid4().hex[:22], "name": name, "input": arguments}}


def _structured(turn: Turn, request: dict[str, Any], context: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    text = render(turn.output, context)
    tool = structured_tool(request)
    if _wants_json_text(request) or tool is None:
        return [{"text": text}], "end_turn"
    try:
        arguments = json.loads(text)
    except ValueError:
        return [{"text": text}], "end_turn"  # not a tool input: the model "answered in prose"
    if not isinstance(arguments, dict):
        return [{"text": text}], "end_turn"
    return [_tool_use(tool, arguments)], "tool_use"


def play(turn: Turn, request: dict[str, Any], context: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The content blocks and stop reason of one scripted turn (an `error` turn raises)."""
    if turn.reply == "error":
        raise BedrockError(turn.error, turn.message or None)
    if turn.reply == "structured":
        return _structured(turn, request, context)
    if turn.reply == "text":
        return [{"text": render(turn.text, context)}], "end_turn"
    arguments = json.loads(render(turn.input, context) or "{}")
    return [_tool_use(render(turn.tool, context), arguments)], "tool_use"


def _ms_since(began: float) -> int:
    return round((time.monotonic() - began) * 1000)


def _tokens(value: Any) -> int:
    return max(1, math.ceil(len(json.dumps(value, default=str)) / 4))


async def converse(state: BedrockState, model_id: str, request: dict[str, Any]) -> dict[str, Any]:
    began = time.monotonic()
    script = state.script_for(model_id)
    validate_request(request)
    context = request_context(model_id, request, structured_tool(request))
    turn = script.turn(context["turn"])
    await asyncio.sleep(script.latency_ms / 1000 + turn.delay_s)
    usage_in = _tokens([request.get("system"), request.get("messages"), request.get("toolConfig")])
    try:
        content, stop_reason = play(turn, request, context)
    except BedrockError as exc:
        status, took = ERROR_STATUS[exc.code], _ms_since(began)
        state.record(ConverseCall(model_id, script.name, context["turn"], "error", status, 0, 0, took))
        raise
    usage_out, took = _tokens(content), _ms_since(began)
    state.record(ConverseCall(model_id, script.name, context["turn"], turn.reply, 200, usage_in, usage_out, took))
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason,
        "usage": {"inputTokens": usage_in, "outputTokens": usage_out, "totalTokens": usage_in + usage_out},
        "metrics": {"latencyMs": took},
    }


def bedrock_fault_body(status: int) -> dict[str, Any]:
    return {"message": f"Injected fault: HTTP {status}"}


def create_bedrock_app(state: BedrockState, faults: FaultInjector) -> FastAPI:
    """The FastAPI app answering Bedrock Runtime Converse calls from `state`'s scripts."""
    app = FastAPI(title="Amazon Bedrock Runtime stand-in", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/model/{model_id:path}/converse")
    async def converse_route(model_id: str, request: Request) -> JSONResponse:
        try:
            if not request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256"):
                raise BedrockError("AccessDeniedException", "Missing Authentication Token")
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError as exc:
                raise BedrockError("ValidationException", "Request body is not valid JSON") from exc
            if not isinstance(body, dict):
                raise BedrockError("ValidationException", "Request body must be a JSON object")
            answer = await converse(state, model_id, body)
            return JSONResponse(answer, headers={"x-amzn-RequestId": _request_id()})
        except BedrockError as exc:
            return exc.response()

    app.add_middleware(FaultMiddleware, injector=faults, error_body=bedrock_fault_body)
    app.state.bedrock = state
    app.state.faults = faults
    return app
