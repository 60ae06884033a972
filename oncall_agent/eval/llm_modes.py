"""`eval --llm off|stub|bedrock`: which model the agent's `reason` step talks to in each scenario, and what the
model calls cost (tokens, latency) as the scenario's `extra.llm`.

- `off`: no LLM, the deterministic result alone (the baseline every other mode is held to).
- `stub`: the sandbox's Bedrock Converse stand-in. Scenario *i* plays script *i* modulo the bundled scripts
  (`helpful` first, then every adversary: distractor promoted without citations, invented ids, an action asked
  for, invalid JSON, a tool loop, throttling, a timeout), so a run covers them all and a scenario always gets
  the same script. The model id stays the default (Nova 2 Lite's profile, so the adapter behaves as with it
  and the cost is priced as it); tokens and latency are the stand-in's log of the calls.
- `bedrock`: Amazon Bedrock itself, with the `llm` section of the user's own configuration (model, region,
  inference profile, budgets; credentials from the default AWS chain or that file). Tokens are Bedrock's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from oncall_agent.sandbox.standins.bedrock import ConverseCall
from oncall_agent.sandbox.standins.bedrock_scripts import bundled_scripts
from oncall_agent.sandbox.world import SandboxWorld
from oncall_agent.settings import Settings

LlmMode = Literal["off", "stub", "bedrock"]
LLM_MODES: tuple[LlmMode, ...] = ("off", "stub", "bedrock")


@dataclass(frozen=True)
class LlmChoice:
    """The model of one scenario's `reason` step: the mode, the scenario's index in the run (the stub's
    script), and the user's settings (`bedrock`)."""

    mode: LlmMode = "off"
    index: int = 0
    user: Settings | None = None


class LlmModeError(ValueError):
    """An `--llm` mode this build or configuration cannot run (the message says why)."""


def stub_script(index: int) -> str:
    """The script scenario `index` (0-based, in run order) plays under `--llm stub`."""
    names = list(bundled_scripts())
    return names[index % len(names)]


def check_mode(name: str, user: Settings | None) -> LlmMode:
    """The mode named `name`; refused early (before any scenario runs) when it cannot work."""
    mode = next((m for m in LLM_MODES if m == name), None)
    if mode is None:
        raise LlmModeError(f"--llm must be one of {', '.join(LLM_MODES)}, not {name!r}")
    if mode == "bedrock" and (user is None or user.llm.provider != "bedrock"):
        raise LlmModeError(
            "--llm bedrock needs an `llm` section with `provider: bedrock` in the configuration (--config)"
        )
    return mode


def llm_section(mode: LlmMode, world: SandboxWorld, index: int, user: Settings | None) -> dict[str, Any] | None:
    """The `llm` section of the agent's settings for one scenario (None: leave it out, the LLM stays off)."""
    if mode == "off":
        return None
    if mode == "bedrock":
        assert user is not None, "check_mode() first"
        return bedrock_section(user)
    assert world.endpoints is not None, "start the world first"
    world.bedrock.use(stub_script(index))  # the default model id (Nova 2 Lite's profile) plays this script
    return {"provider": "bedrock", "region": world.scenario.region, "endpoint_url": world.endpoints.bedrock}


def llm_usage(world: SandboxWorld, choice: LlmChoice, recorded: dict[str, Any]) -> dict[str, Any] | None:
    """What the model calls of one investigation cost: the totals the reason step recorded on the incident,
    overlaid (stub) with the stand-in's own log of the calls."""
    if choice.mode == "off":
        return None
    kept = {k: recorded.get(k) for k in ("failure", "cost_usd", "dropped_claims", "disagreement", "prompt_version")}
    if choice.mode == "stub":
        return {"mode": choice.mode, **kept, **stub_usage(world.bedrock.calls())}
    seconds = recorded.get("latency_seconds")
    return {
        "mode": choice.mode,
        **kept,
        "calls": recorded.get("calls", 0),
        "errors": 1 if recorded.get("failure") else 0,
        "input_tokens": recorded.get("input_tokens", 0),
        "output_tokens": recorded.get("output_tokens", 0),
        "seconds": seconds,
    }


def bedrock_section(user: Settings) -> dict[str, Any]:
    """The user's `llm` section aimed at Amazon Bedrock itself: the sandbox's aws section (moto's endpoint and
    keys) must not reach it, so the endpoint is the region's (or the user's own) and the signer the default chain."""
    region = user.llm.region or user.aws.regions[0]
    section: dict[str, Any] = user.llm.model_dump(mode="json")
    endpoint = user.llm.endpoint_url or f"https://bedrock-runtime.{region}.amazonaws.com"
    return {**section, "region": region, "endpoint_url": endpoint, "credentials": "default_chain"}


def stub_usage(calls: list[ConverseCall], since_index: int = 0) -> dict[str, Any]:
    """Calls, errors and tokens of the stand-in's log from `since_index` on (one scenario's share)."""
    mine = calls[since_index:]
    return {
        "calls": len(mine),
        "errors": sum(1 for c in mine if c.status >= 300),
        "input_tokens": sum(c.input_tokens for c in mine),
        "output_tokens": sum(c.output_tokens for c in mine),
        "seconds": round(sum(c.latency_ms for c in mine) / 1000, 3),
        "scripts": sorted({c.script for c in mine}),
    }


def usage_line(rows: list[dict[str, Any]]) -> str:
    """The report's LLM line over every scenario's `extra.llm`."""
    if not rows:
        return "llm: off"
    calls = sum(r.get("calls", 0) for r in rows)
    tokens_in = sum(r.get("input_tokens", 0) for r in rows)
    tokens_out = sum(r.get("output_tokens", 0) for r in rows)
    seconds = [r["seconds"] for r in rows if r.get("seconds") is not None]
    per = len(rows)
    mean_s = f"{sum(seconds) / len(seconds):.2f}" if seconds else "-"  # time inside model calls
    cost = sum(r.get("cost_usd") or 0.0 for r in rows)
    return (
        f"llm: {rows[0].get('mode', '?')}  calls={calls} ({calls / per:.1f}/scenario)  errors="
        f"{sum(r.get('errors', 0) for r in rows)}  tokens in={tokens_in} out={tokens_out} "
        f"({(tokens_in + tokens_out) / per:.0f}/scenario)  mean model seconds={mean_s}  cost=${cost:.4f}"
    )
