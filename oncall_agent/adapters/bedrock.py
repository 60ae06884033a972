"""Reasoner on Amazon Bedrock: langchain-aws `ChatBedrockConverse` over a boto3 `bedrock-runtime` client that the
bootstrap builds (endpoint, region, timeouts and retries from settings), with the answer as structured output
(Converse tool use forced to the `Reasoning` schema). Every failure becomes ReasoningFailed with its kind."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    ReadTimeoutError,
)
from langchain_aws import ChatBedrockConverse
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import ValidationError

from oncall_agent.domain.reasoning import FailureKind, Reasoning, ReasoningFailed, ReasoningReply, Usage

THROTTLED_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "ServiceUnavailableException", "ModelNotReadyException"}
)
NOT_ENABLED_CODES = frozenset({"ResourceNotFoundException", "ModelNotEnabledException"})
# Bedrock answers a model the account has not been granted (or an id it does not know) with these messages.
NOT_ENABLED_PHRASES = (
    "don't have access to the model",
    "model identifier is invalid",
    "not enabled",
    "end of its life",
)


class BedrockReasoner:
    """One chat model per agent; `reason` is safe to call from several workers (the boto3 client is)."""

    def __init__(
        self,
        runtime_client: Any,
        control_client: Any,
        model_id: str,
        *,
        base_model_id: str | None = None,
        max_tokens: int = 2000,
        temperature: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._model_id = model_id
        self._monotonic = monotonic
        # base_model (the foundation model behind an inference profile) only when given: None is not "unset".
        base = {"base_model": base_model_id} if base_model_id else {}
        chat = ChatBedrockConverse(
            client=runtime_client,
            bedrock_client=control_client,
            model_id=model_id,
            max_tokens=max_tokens,
            temperature=temperature,
            **base,
        )
        self._structured = chat.with_structured_output(Reasoning, include_raw=True)

    def reason(self, system: str, prompt: str) -> ReasoningReply:
        messages: list[BaseMessage] = [SystemMessage(content=system), HumanMessage(content=prompt)]
        started = self._monotonic()
        try:
            result = cast(dict[str, Any], self._structured.invoke(messages))  # include_raw: a dict
        except ClientError as exc:
            raise failure_from_client_error(exc) from exc
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise ReasoningFailed(FailureKind.TIMEOUT, str(exc)) from exc
        except BotoCoreError as exc:
            raise ReasoningFailed(FailureKind.ERROR, str(exc)) from exc
        except ValidationError as exc:
            raise ReasoningFailed(FailureKind.INVALID_OUTPUT, _first_error(exc)) from exc
        latency = self._monotonic() - started
        return self._reply(result, latency)

    def _reply(self, result: dict[str, Any], latency: float) -> ReasoningReply:
        usage = usage_of(result.get("raw"))
        parsed = result.get("parsed")
        if result.get("parsing_error") is not None or not isinstance(parsed, Reasoning):
            why = result.get("parsing_error") or f"no structured answer (stop reason {usage.stop_reason})"
            if isinstance(why, ValidationError):
                why = _first_error(why)
            raise ReasoningFailed(FailureKind.INVALID_OUTPUT, str(why)[:300], usage)
        return ReasoningReply(reasoning=parsed, usage=usage, model_id=self._model_id, latency_seconds=latency)


def usage_of(raw: Any) -> Usage:
    """Tokens and stop reason from the AIMessage langchain-aws builds out of the Converse response."""
    if raw is None:
        return Usage()
    tokens = getattr(raw, "usage_metadata", None) or {}
    meta = getattr(raw, "response_metadata", None) or {}
    return Usage(
        input_tokens=int(tokens.get("input_tokens", 0)),
        output_tokens=int(tokens.get("output_tokens", 0)),
        stop_reason=meta.get("stopReason"),
    )


def failure_from_client_error(exc: ClientError) -> ReasoningFailed:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", ""))[:300]
    if code in THROTTLED_CODES:
        kind = FailureKind.THROTTLED
    elif code == "ModelTimeoutException":
        kind = FailureKind.TIMEOUT
    elif code in NOT_ENABLED_CODES or any(p in message.lower() for p in NOT_ENABLED_PHRASES):
        kind = FailureKind.MODEL_NOT_ENABLED
    elif code == "AccessDeniedException":
        kind = FailureKind.ACCESS_DENIED
    else:
        kind = FailureKind.ERROR
    return ReasoningFailed(kind, f"{code}: {message}")


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid structured output"
    first = errors[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
