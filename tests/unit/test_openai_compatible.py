"""The OpenAI-compatible reasoner (vLLM, Ollama) against a real local HTTP server (port 0) playing chat
completions: the answer as a forced function call, usage and finish reason, every failure as its kind; built by
the bootstrap from the llm settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from oncall_agent.adapters.openai_compatible import OpenAiCompatibleReasoner
from oncall_agent.bootstrap_llm import build_reasoner, llm_limits
from oncall_agent.domain.reasoning import FailureKind, ReasoningFailed
from oncall_agent.settings import Settings

ANSWER = {"ranking": [{"key": "h1", "reason": "deploy first", "cites": ["ev-1"]}], "narrative": "The deploy."}


def completion(arguments: str | None, finish: str = "tool_calls") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    if arguments is not None:
        message["tool_calls"] = [
            {"id": "c1", "type": "function", "function": {"name": "Reasoning", "arguments": arguments}}
        ]
    return {
        "id": "chatcmpl-1",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 812, "completion_tokens": 64, "total_tokens": 876},
    }


class Script:
    def __init__(self) -> None:
        self.status, self.body, self.delay = 200, json.dumps(completion(json.dumps(ANSWER))), 0.0
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.requests.append((dict(self.headers), body))
            time.sleep(script.delay)
            payload = script.body.encode()
            self.send_response(script.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    httpd.shutdown()
    httpd.server_close()


def test_the_answer_is_a_forced_function_call(server: tuple[str, Script]) -> None:
    url, script = server
    reply = OpenAiCompatibleReasoner(url, "qwen3:8b", api_key="sk-local", max_tokens=300).reason("sys", "prompt")
    assert reply.reasoning.ranking[0].key == "h1" and reply.reasoning.narrative == "The deploy."
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.stop_reason) == (812, 64, "tool_calls")
    headers, body = script.requests[0]
    assert headers["Authorization"] == "Bearer sk-local"
    assert body["model"] == "qwen3:8b" and body["max_tokens"] == 300
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Reasoning"}}
    assert [t["function"]["name"] for t in body["tools"]] == ["Reasoning"]
    assert "ranking" in body["tools"][0]["function"]["parameters"]["properties"]
    assert body["messages"] == [{"role": "system", "content": "sys"}, {"role": "user", "content": "prompt"}]
    assert "sk-local" not in repr(OpenAiCompatibleReasoner(url, "m", api_key="sk-local"))


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, FailureKind.THROTTLED),
        (401, FailureKind.ACCESS_DENIED),
        (404, FailureKind.MODEL_NOT_ENABLED),
        (500, FailureKind.ERROR),
    ],
)
def test_http_errors_become_kinds(server: tuple[str, Script], status: int, kind: FailureKind) -> None:
    url, script = server
    script.status, script.body = status, json.dumps({"error": {"message": "nope"}})
    with pytest.raises(ReasoningFailed) as failed:
        OpenAiCompatibleReasoner(url, "m").reason("s", "p")
    assert failed.value.kind is kind and str(status) in failed.value.message


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(completion(None, finish="stop")),  # answered in prose, no call
        json.dumps(completion('{"ranking": "first"')),  # arguments cut off
        json.dumps(completion('{"new_hypotheses": [{"category": "approve"}]}')),  # not the schema
        "<html>gateway</html>",
    ],
)
def test_invalid_output(server: tuple[str, Script], body: str) -> None:
    url, script = server
    script.body = body
    with pytest.raises(ReasoningFailed) as failed:
        OpenAiCompatibleReasoner(url, "m").reason("s", "p")
    assert failed.value.kind is FailureKind.INVALID_OUTPUT


def test_a_slow_server_is_a_timeout(server: tuple[str, Script]) -> None:
    url, script = server
    script.delay = 0.5
    with pytest.raises(ReasoningFailed) as failed:
        OpenAiCompatibleReasoner(url, "m", timeout=(1.0, 0.1)).reason("s", "p")
    assert failed.value.kind is FailureKind.TIMEOUT


def test_bootstrap_builds_it_and_names_the_provider_of_its_spans(server: tuple[str, Script]) -> None:
    url, _ = server
    settings = Settings(llm={"provider": "openai_compatible", "base_url": url, "model_id": "llama3.1:8b"})
    reasoner = build_reasoner(settings)
    assert isinstance(reasoner, OpenAiCompatibleReasoner)
    assert reasoner.reason("s", "p").usage.input_tokens == 812
    assert llm_limits(settings).provider == "openai"
    assert llm_limits(Settings()).provider == "aws.bedrock"


def test_openai_compatible_needs_a_base_url() -> None:
    with pytest.raises(ValueError, match="needs base_url"):
        Settings(llm={"provider": "openai_compatible"})
