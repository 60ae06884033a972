"""Reasoner on an OpenAI-compatible chat completions endpoint (a self-hosted vLLM or Ollama, or any service
speaking `/v1/chat/completions`): the answer is forced into the `Reasoning` schema as a function call. Every
failure becomes ReasoningFailed with its kind; the API key goes only into the Authorization header."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import requests
from pydantic import ValidationError

from oncall_agent.domain.reasoning import FailureKind, Reasoning, ReasoningFailed, ReasoningReply, Usage

TOOL = "Reasoning"
STATUS_KINDS = {
    429: FailureKind.THROTTLED,
    503: FailureKind.THROTTLED,
    401: FailureKind.ACCESS_DENIED,
    403: FailureKind.ACCESS_DENIED,
    404: FailureKind.MODEL_NOT_ENABLED,
    408: FailureKind.TIMEOUT,
    504: FailureKind.TIMEOUT,
}


class OpenAiCompatibleReasoner:
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_tokens: int = 2000,
        temperature: float = 0.0,
        timeout: tuple[float, float] = (3.0, 30.0),
        session: requests.Session | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model, self._max_tokens, self._temperature, self._timeout = model, max_tokens, temperature, timeout
        self._session = session or requests.Session()
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._monotonic = monotonic

    def __repr__(self) -> str:  # never the key
        return f"OpenAiCompatibleReasoner({self._url!r}, {self._model!r})"

    def _body(self, system: str, prompt: str) -> dict[str, Any]:
        schema = Reasoning.model_json_schema()
        return {
            "model": self._model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            "tools": [
                {"type": "function", "function": {"name": TOOL, "description": "The answer", "parameters": schema}}
            ],
            "tool_choice": {"type": "function", "function": {"name": TOOL}},
            "max_tokens": self._max_tokens,
            "temperature": self._temperature,
        }

    def reason(self, system: str, prompt: str) -> ReasoningReply:
        started = self._monotonic()
        try:
            answer = self._session.post(
                self._url, json=self._body(system, prompt), headers=self._headers, timeout=self._timeout
            )
        except requests.Timeout as exc:
            raise ReasoningFailed(FailureKind.TIMEOUT, f"no answer from {self._url}") from exc
        except requests.RequestException as exc:
            raise ReasoningFailed(FailureKind.ERROR, f"{type(exc).__name__} calling {self._url}") from exc
        if answer.status_code >= 300:
            kind = STATUS_KINDS.get(answer.status_code, FailureKind.ERROR)
            raise ReasoningFailed(kind, f"HTTP {answer.status_code}: {answer.text[:300]}")
        reasoning, usage = parse_completion(answer.text)
        return ReasoningReply(
            reasoning=reasoning, usage=usage, model_id=self._model, latency_seconds=self._monotonic() - started
        )


def parse_completion(text: str) -> tuple[Reasoning, Usage]:
    """The `Reasoning` function call of a chat completion, and its usage; ReasoningFailed(INVALID_OUTPUT) when
    the body, the call or its arguments are not what the schema asks for."""
    try:
        body = json.loads(text)
        choice = body["choices"][0]
        tokens = body.get("usage") or {}
        usage = Usage(
            input_tokens=int(tokens.get("prompt_tokens", 0)),
            output_tokens=int(tokens.get("completion_tokens", 0)),
            stop_reason=choice.get("finish_reason"),
        )
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ReasoningFailed(FailureKind.INVALID_OUTPUT, f"not a chat completion: {exc!r}"[:300]) from exc
    calls = [c for c in (choice.get("message") or {}).get("tool_calls") or [] if c["function"]["name"] == TOOL]
    if not calls:
        raise ReasoningFailed(FailureKind.INVALID_OUTPUT, f"no {TOOL} call (finish {usage.stop_reason})", usage)
    try:
        return Reasoning.model_validate_json(calls[0]["function"]["arguments"]), usage
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"])
        raise ReasoningFailed(FailureKind.INVALID_OUTPUT, f"{where}: {first['msg']}", usage) from exc
