"""The Bedrock Converse stand-in, exercised only through boto3's `bedrock-runtime` client (unchanged, via
`endpoint_url`) and langchain-aws' `ChatBedrockConverse` over it: every answer is checked member by member
against botocore's own service model, scripts are played turn by turn, errors arrive as botocore's ClientError
with the service's code and status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.model import ListShape, MapShape, Shape, StructureShape
from langchain_aws import ChatBedrockConverse

from oncall_agent.domain.reasoning import Reasoning
from oncall_agent.sandbox.standins import BackgroundServer, FaultInjector
from oncall_agent.sandbox.standins.bedrock import BedrockState, create_bedrock_app
from oncall_agent.sandbox.standins.bedrock_scripts import bundled_scripts

pytestmark = pytest.mark.sandbox

REAL_IDS = ["ev-0123456789abcdef", "ev-1111111111111111"]
CANDIDATES = [
    {"category": "deploy", "culprit": "orders-api", "confidence": 0.8, "evidence_for": [REAL_IDS[0]]},
    {"category": "dependency", "culprit": "orders-db", "confidence": 0.1, "evidence_for": [REAL_IDS[1]]},
]
# As the reason step's prompt lists them: one labelled JSON line per candidate.
PROMPT = "Candidate causes:\n" + "\n".join(f"- h{n}: {json.dumps(c)}" for n, c in enumerate(CANDIDATES, 1))
REASONING_TOOL = {"toolSpec": {"name": "Reasoning", "inputSchema": {"json": {"type": "object"}}}}
LOGS_TOOL = {"toolSpec": {"name": "logs_insights_query", "inputSchema": {"json": {"type": "object"}}}}


@pytest.fixture(scope="module")
def standin() -> Iterator[tuple[BedrockState, str]]:
    state, faults = BedrockState(), FaultInjector()
    server = BackgroundServer(create_bedrock_app(state, faults), faults=faults)
    url = server.start()
    try:
        yield state, url
    finally:
        server.stop()


def _client(url: str, read_timeout: float = 30) -> Any:
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=read_timeout),
    )


@pytest.fixture(scope="module")
def bedrock(standin: tuple[BedrockState, str]) -> Any:
    return _client(standin[1])


def _conforms(shape: Shape, value: Any, where: str = "ConverseResponse") -> None:
    """`value` (parsed by botocore) holds only members the service model declares, and every required one."""
    if getattr(shape, "is_document_type", False):
        json.dumps(value)  # a document (a tool's input) is any JSON value
    elif isinstance(shape, StructureShape):
        assert isinstance(value, dict), where
        unknown = set(value) - set(shape.members) - {"ResponseMetadata"}
        assert not unknown, f"{where}: members not in the service model: {unknown}"
        missing = set(shape.required_members) - set(value)
        assert not missing, f"{where}: required members missing: {missing}"
        for name, member in value.items():
            if name != "ResponseMetadata":
                _conforms(shape.members[name], member, f"{where}.{name}")
    elif isinstance(shape, ListShape):
        assert isinstance(value, list), where
        for index, item in enumerate(value):
            _conforms(shape.member, item, f"{where}[{index}]")
    elif isinstance(shape, MapShape):
        assert isinstance(value, dict), where
    elif shape.type_name in {"integer", "long"}:
        assert isinstance(value, int), where
    elif shape.type_name == "string":
        assert isinstance(value, str), where
        assert not shape.enum or value in shape.enum, f"{where}: {value!r} not in {shape.enum}"


def _converse(bedrock: Any, model: str, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = bedrock.converse(
        modelId=model, messages=[{"role": "user", "content": [{"text": PROMPT}]}], **extra
    )
    _conforms(bedrock.meta.service_model.operation_model("Converse").output_shape, answer)
    return answer


def test_helpful_answers_a_forced_tool_with_the_candidates_and_their_own_ids(bedrock: Any) -> None:
    forced = {"tools": [REASONING_TOOL, LOGS_TOOL], "toolChoice": {"tool": {"name": "Reasoning"}}}
    answer = _converse(bedrock, "sandbox.helpful", toolConfig=forced)
    assert answer["stopReason"] == "tool_use"
    (block,) = answer["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "Reasoning"
    ranking = block["toolUse"]["input"]["ranking"]
    assert [(r["key"], r["cites"]) for r in ranking] == [
        ("h1", REAL_IDS[:1]),
        ("h2", REAL_IDS[1:]),
    ]
    usage = answer["usage"]
    assert usage["inputTokens"] > 0 and usage["outputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert answer["metrics"]["latencyMs"] >= 20  # the script's latency


def test_json_schema_output_config_is_answered_with_json_text(bedrock: Any) -> None:
    schema = {"jsonSchema": {"schema": json.dumps(Reasoning.model_json_schema()), "name": "Reasoning"}}
    answer = _converse(
        bedrock, "sandbox.helpful", outputConfig={"textFormat": {"type": "json_schema", "structure": schema}}
    )
    (block,) = answer["output"]["message"]["content"]
    assert json.loads(block["text"])["ranking"][0]["key"] == "h1"
    assert answer["stopReason"] == "end_turn"


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_chat_bedrock_converse_parses_the_structured_output(standin: tuple[BedrockState, str], method: str) -> None:
    chat = ChatBedrockConverse(client=_client(standin[1]), model="sandbox.helpful", region_name="us-east-1")
    chat.supports_tool_choice_values = ("auto", "any", "tool")
    result = chat.with_structured_output(Reasoning, method=method).invoke(PROMPT)
    assert isinstance(result, Reasoning)
    assert [r.key for r in result.ranking] == ["h1", "h2"]
    assert result.ranking[0].cites == REAL_IDS[:1]
    assert "orders-api" in result.narrative


def test_promote_distractor_reverses_the_order_and_cites_nothing(bedrock: Any) -> None:
    answer = _converse(
        bedrock, "sandbox.promote-distractor", toolConfig={"tools": [REASONING_TOOL], "toolChoice": {"any": {}}}
    )
    ranking = answer["output"]["message"]["content"][0]["toolUse"]["input"]["ranking"]
    assert [r["key"] for r in ranking] == ["h2", "h1"]
    assert all(r["cites"] == [] for r in ranking)


def test_invented_ids_are_not_in_the_prompt(bedrock: Any) -> None:
    answer = _converse(
        bedrock, "sandbox.invented-ids", toolConfig={"tools": [REASONING_TOOL], "toolChoice": {"any": {}}}
    )
    cited = json.dumps(answer["output"]["message"]["content"][0]["toolUse"]["input"])
    invented = {token.strip('"') for token in cited.split() if token.strip('",[]').startswith("ev-")}
    assert invented and not {i.strip(",[]") for i in invented} & set(REAL_IDS)


def test_invalid_json_comes_back_as_text_even_when_a_tool_is_forced(bedrock: Any) -> None:
    forced = {"tools": [REASONING_TOOL], "toolChoice": {"tool": {"name": "Reasoning"}}}
    answer = _converse(bedrock, "sandbox.invalid-json", toolConfig=forced)
    (block,) = answer["output"]["message"]["content"]
    with pytest.raises(ValueError):
        json.loads(block["text"])


def test_asks_for_action_calls_an_unoffered_tool_then_answers_after_its_result(bedrock: Any) -> None:
    tools = {"tools": [REASONING_TOOL, LOGS_TOOL]}
    first = _converse(bedrock, "sandbox.asks-for-action", toolConfig=tools)
    use = first["output"]["message"]["content"][0]["toolUse"]
    assert use["name"] == "rollback_deployment" and use["input"]["approve"] is True
    refused = {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": "not allowed"}], "status": "error"}}
    second = bedrock.converse(
        modelId="sandbox.asks-for-action",
        messages=[
            {"role": "user", "content": [{"text": PROMPT}]},
            first["output"]["message"],
            {"role": "user", "content": [refused]},
        ],
        toolConfig={**tools, "toolChoice": {"tool": {"name": "Reasoning"}}},
    )
    assert "approve" in second["output"]["message"]["content"][0]["toolUse"]["input"]["narrative"].lower()


def test_tool_loop_calls_the_offered_tool_on_every_turn(standin: tuple[BedrockState, str], bedrock: Any) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"text": PROMPT}]}]
    for turn in range(4):
        answer = bedrock.converse(modelId="sandbox.tool-loop", messages=messages, toolConfig={"tools": [LOGS_TOOL]})
        use = answer["output"]["message"]["content"][0]["toolUse"]
        assert (use["name"], use["input"]["round"], answer["stopReason"]) == ("logs_insights_query", turn, "tool_use")
        result = {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": {"rows": []}}]}}
        messages += [answer["output"]["message"], {"role": "user", "content": [result]}]
    turns = [c.turn for c in standin[0].calls() if c.script == "tool-loop"]
    assert turns == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("model", "code", "status"),
    [
        ("sandbox.throttled", "ThrottlingException", 429),
        ("denied.model-v1:0", "AccessDeniedException", 403),
        ("sandbox.no-such-script", "ValidationException", 400),
        ("retired.model-v1:0", "ResourceNotFoundException", 404),
    ],
)
def test_errors_carry_the_service_code_and_status(
    standin: tuple[BedrockState, str], bedrock: Any, model: str, code: str, status: int
) -> None:
    standin[0].denied_models.add("denied.model-v1:0")
    standin[0].missing_models.add("retired.model-v1:0")
    with pytest.raises(ClientError) as caught:
        _converse(bedrock, model)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert caught.value.response["Error"]["Message"]


def test_model_timeout_is_a_408_after_the_wait_or_a_read_timeout_before_it(standin: tuple[BedrockState, str]) -> None:
    state, url = standin
    state.scripts["quick-timeout"] = state.scripts["timeout"].model_copy(
        update={
            "name": "quick-timeout",
            "turns": [state.scripts["timeout"].turns[0].model_copy(update={"delay_s": 0.3})],
        }
    )
    with pytest.raises(ClientError) as caught:
        _converse(_client(url), "sandbox.quick-timeout")
    assert (caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ModelTimeoutException",
        408,
    )
    with pytest.raises(ReadTimeoutError):
        _converse(_client(url, read_timeout=0.1), "sandbox.quick-timeout")


@pytest.mark.parametrize(
    ("messages", "extra", "says"),
    [
        ([{"role": "assistant", "content": [{"text": "hi"}]}], {}, "start with a user message"),
        ([{"role": "user", "content": [{"text": "a"}]}, {"role": "user", "content": [{"text": "b"}]}], {}, "alternate"),
        (
            [{"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "x"}]}}]}],
            {},
            "toolConfig field must be defined",
        ),
        (
            [{"role": "user", "content": [{"text": "a"}]}],
            {"toolConfig": {"tools": [LOGS_TOOL], "toolChoice": {"tool": {"name": "Other"}}}},
            "not in toolConfig",
        ),
    ],
)
def test_requests_bedrock_refuses_are_validation_errors(bedrock: Any, messages: Any, extra: Any, says: str) -> None:
    with pytest.raises(ClientError) as caught:
        bedrock.converse(modelId="sandbox.helpful", messages=messages, **extra)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert says in caught.value.response["Error"]["Message"]


def test_other_model_ids_play_the_chosen_script(standin: tuple[BedrockState, str], bedrock: Any) -> None:
    state = standin[0]
    state.use("promote-distractor")
    try:
        answer = _converse(
            bedrock, "us.amazon.nova-2-lite-v1:0", toolConfig={"tools": [REASONING_TOOL], "toolChoice": {"any": {}}}
        )
    finally:
        state.use("helpful")
    assert answer["output"]["message"]["content"][0]["toolUse"]["input"]["ranking"][0]["key"] == "h2"
    assert state.calls()[-1].script == "promote-distractor"
    with pytest.raises(KeyError, match="no LLM script 'nonsense'"):
        state.use("nonsense")


def test_bundled_scripts_put_helpful_first_and_cover_every_adversary() -> None:
    scripts = bundled_scripts()
    assert next(iter(scripts)) == "helpful" and not scripts["helpful"].adversarial
    assert {
        "promote-distractor",
        "invented-ids",
        "asks-for-action",
        "invalid-json",
        "tool-loop",
        "throttled",
        "timeout",
    } <= {name for name, script in scripts.items() if script.adversarial}
