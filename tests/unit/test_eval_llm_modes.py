"""`eval --llm`: the modes, the stub's script per scenario, the usage figures of the stand-in's log."""

from __future__ import annotations

import pytest

from oncall_agent.eval.llm_modes import (
    LlmModeError,
    bedrock_section,
    check_mode,
    stub_script,
    stub_usage,
    usage_line,
)
from oncall_agent.sandbox.standins.bedrock import ConverseCall
from oncall_agent.sandbox.standins.bedrock_scripts import bundled_scripts
from oncall_agent.settings import Settings


def test_stub_scripts_cycle_helpful_first_then_every_adversary() -> None:
    names = list(bundled_scripts())
    played = [stub_script(i) for i in range(2 * len(names))]
    assert played[0] == "helpful"
    assert played[: len(names)] == names == played[len(names) :]
    assert {n for n in names if bundled_scripts()[n].adversarial} == set(names) - {"helpful"}


def test_unknown_modes_are_refused_by_name() -> None:
    with pytest.raises(LlmModeError, match="--llm must be one of off, stub, bedrock, not 'mock'"):
        check_mode("mock", None)
    assert check_mode("off", None) == "off"


def test_bedrock_needs_the_users_llm_settings_for_bedrock() -> None:
    with pytest.raises(LlmModeError, match="provider: bedrock"):
        check_mode("bedrock", Settings())
    local = Settings(llm={"provider": "openai_compatible", "base_url": "http://127.0.0.1:11434/v1"})
    with pytest.raises(LlmModeError, match="provider: bedrock"):
        check_mode("bedrock", local)


def test_bedrock_mode_aims_the_users_llm_section_at_aws_not_at_the_sandbox() -> None:
    user = Settings(
        aws={"regions": ["eu-west-1"]}, llm={"provider": "bedrock", "model_id": "eu.amazon.nova-2-lite-v1:0"}
    )
    assert check_mode("bedrock", user) == "bedrock"
    section = bedrock_section(user)
    sandbox = Settings(
        aws={"endpoint_url": "http://127.0.0.1:5000", "credentials": {"access_key_id": "a", "secret_access_key": "b"}},
        llm=section,
    )
    assert sandbox.llm.endpoint_url == "https://bedrock-runtime.eu-west-1.amazonaws.com"
    assert (sandbox.llm.region, sandbox.llm.credentials) == ("eu-west-1", "default_chain")
    assert sandbox.llm.model_id == "eu.amazon.nova-2-lite-v1:0"


def test_stub_usage_sums_one_scenarios_calls() -> None:
    calls = [
        ConverseCall("sandbox.tool-loop", "tool-loop", 0, "tool_use", 200, 100, 20, 15),
        ConverseCall("sandbox.tool-loop", "tool-loop", 1, "tool_use", 200, 140, 20, 12),
        ConverseCall("sandbox.throttled", "throttled", 0, "error", 429, 0, 0, 3),
    ]
    usage = stub_usage(calls)
    assert usage == {
        "calls": 3,
        "errors": 1,
        "input_tokens": 240,
        "output_tokens": 40,
        "seconds": 0.03,
        "scripts": ["throttled", "tool-loop"],
    }
    line = usage_line([{"mode": "stub", **usage}, {"mode": "stub", **stub_usage(calls[:1])}])
    assert line.startswith("llm: stub  calls=4 (2.0/scenario)  errors=1  tokens in=340 out=60 (200/scenario)")
    assert usage_line([]) == "llm: off"
