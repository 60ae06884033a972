"""BedrockReasoner against the Converse wire format (botocore Stubber on a real bedrock-runtime client): the
structured answer arrives as a tool use, usage and stop reason are read, and every error becomes its kind."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from oncall_agent.adapters.bedrock import BedrockReasoner
from oncall_agent.domain.reasoning import FailureKind, ReasoningFailed

MODEL = "us.amazon.nova-2-lite-v1:0"


def _clients() -> tuple[Any, Any]:
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    return session.client("bedrock-runtime"), session.client("bedrock")


def _response(content: list[dict[str, Any]], stop: str = "tool_use") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 1234, "outputTokens": 56, "totalTokens": 1290},
        "metrics": {"latencyMs": 420},
    }


ANSWER = {
    "ranking": [{"key": "h2", "reason": "the pool ran out first", "cites": ["ev-1"]}, {"key": "h1"}],
    "new_hypotheses": [],
    "counter_evidence": [{"key": "h1", "evidence_id": "ev-2", "reason": "deploy was after onset"}],
    "unknowns": ["whether the proxy was restarted"],
    "narrative": "Connections ran out.",
}


def _reasoner(runtime: Any, control: Any) -> BedrockReasoner:
    return BedrockReasoner(runtime, control, MODEL, max_tokens=500)


def test_structured_answer_usage_and_request_shape() -> None:
    runtime, control = _clients()
    reasoner = _reasoner(runtime, control)
    seen: list[dict[str, Any]] = []
    runtime.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse", lambda params, **_: seen.append(params)
    )
    with Stubber(runtime) as stub:
        stub.add_response(
            "converse", _response([{"toolUse": {"toolUseId": "t1", "name": "Reasoning", "input": ANSWER}}])
        )
        reply = reasoner.reason("system text", "prompt text")
        stub.assert_no_pending_responses()
    assert reply.reasoning.ranking[0].key == "h2"
    assert reply.reasoning.counter_evidence[0].evidence_id == "ev-2"
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.stop_reason) == (1234, 56, "tool_use")
    assert reply.model_id == MODEL
    request = seen[0]
    assert request["modelId"] == MODEL
    assert request["system"] == [{"text": "system text"}]
    assert request["inferenceConfig"]["maxTokens"] == 500
    tools = request["toolConfig"]["tools"]
    assert [t["toolSpec"]["name"] for t in tools] == ["Reasoning"]
    assert "ranking" in tools[0]["toolSpec"]["inputSchema"]["json"]["properties"]
    assert "actions" not in str(tools[0]["toolSpec"]["inputSchema"]["json"]["properties"])


@pytest.mark.parametrize(
    ("content", "stop"),
    [
        ([{"text": "I think it is the deploy."}], "end_turn"),  # no tool use at all
        ([{"toolUse": {"toolUseId": "t1", "name": "Reasoning", "input": {"ranking": "first"}}}], "tool_use"),
        ([{"toolUse": {"toolUseId": "t1", "name": "Reasoning", "input": {"new_hypotheses": [{}]}}}], "max_tokens"),
    ],
)
def test_invalid_structured_output(content: list[dict[str, Any]], stop: str) -> None:
    runtime, control = _clients()
    reasoner = _reasoner(runtime, control)
    with Stubber(runtime) as stub:
        stub.add_response("converse", _response(content, stop))
        with pytest.raises(ReasoningFailed) as failed:
            reasoner.reason("s", "p")
    assert failed.value.kind is FailureKind.INVALID_OUTPUT
    assert failed.value.usage is not None and failed.value.usage.input_tokens == 1234  # the tokens were spent


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        ("ThrottlingException", "Too many requests, please wait before trying again.", FailureKind.THROTTLED),
        ("AccessDeniedException", "User is not authorized to perform: bedrock:InvokeModel", FailureKind.ACCESS_DENIED),
        (
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
            FailureKind.MODEL_NOT_ENABLED,
        ),
        ("ValidationException", "The provided model identifier is invalid.", FailureKind.MODEL_NOT_ENABLED),
        ("ValidationException", "Malformed input request", FailureKind.ERROR),
        ("ModelTimeoutException", "Model has timed out", FailureKind.TIMEOUT),
    ],
)
def test_errors_become_kinds(code: str, message: str, kind: FailureKind) -> None:
    runtime, control = _clients()
    reasoner = _reasoner(runtime, control)
    with Stubber(runtime) as stub:
        stub.add_client_error("converse", service_error_code=code, service_message=message, http_status_code=400)
        with pytest.raises(ReasoningFailed) as failed:
            reasoner.reason("s", "p")
    assert failed.value.kind is kind
    assert code in str(failed.value)


def test_bootstrap_builds_the_reasoner_only_when_configured() -> None:
    from oncall_agent.bootstrap_llm import build_reasoner, llm_limits
    from oncall_agent.settings import Settings

    assert build_reasoner(Settings()) is None
    on = Settings(llm={"provider": "bedrock", "model_id": "us.anthropic.claude-haiku-4-5-20251001-v1:0"})
    assert isinstance(build_reasoner(on), BedrockReasoner)
    assert llm_limits(on).price_per_million == (1.0, 5.0)  # the cross-region profile priced as its model
    assert llm_limits(Settings(llm={"model_id": "acme.unknown-v1"})).price_per_million is None


def test_the_runtime_endpoint_is_never_given_to_the_control_plane() -> None:
    """A runtime endpoint (a VPC endpoint for bedrock-runtime, the stand-in) does not answer GetInferenceProfile."""
    from oncall_agent.bootstrap_llm import _bedrock_client
    from oncall_agent.settings import Settings

    runtime_only = Settings(llm={"provider": "bedrock", "endpoint_url": "http://127.0.0.1:4010", "region": "us-west-2"})
    assert _bedrock_client(runtime_only, "bedrock-runtime").meta.endpoint_url == "http://127.0.0.1:4010"
    assert _bedrock_client(runtime_only, "bedrock").meta.endpoint_url == "https://bedrock.us-west-2.amazonaws.com"
    both = Settings(
        llm={"provider": "bedrock", "endpoint_url": "http://127.0.0.1:4010", "control_endpoint_url": "http://cp:1"},
        aws={"service_endpoints": {"bedrock-runtime": "http://ignored:2"}},
    )
    assert _bedrock_client(both, "bedrock").meta.endpoint_url == "http://cp:1"
    mapped = Settings(llm={"provider": "bedrock"}, aws={"service_endpoints": {"bedrock": "http://vpce-bedrock:3"}})
    assert _bedrock_client(mapped, "bedrock").meta.endpoint_url == "http://vpce-bedrock:3"
