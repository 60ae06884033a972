"""Scripted conversations for the Bedrock Converse stand-in: YAML files (`sandbox/llm_scripts/*.yaml`), each a
list of turns the "model" plays, and what a turn reads from the request it answers.

Converse is stateless, so the turn played is the number of assistant messages already in the request (the last
turn repeats forever: a script whose last turn is a tool call loops). A turn is one of:

- `structured`: the `output` template rendered as JSON text, returned the way the caller asked for structured
  output: a text block under `outputConfig.textFormat` (json_schema), a `toolUse` of the forced tool under
  `toolChoice.tool` (or the only tool under `toolChoice.any`), else a text block. Output that is not valid JSON
  cannot be a tool input: it comes back as text, as a model ignoring the tool would answer.
- `text`: the `text` template as a text block.
- `tool_use`: a call of `tool` (a template: `{{ tools[0] }}` calls the first tool offered) with `input`.
- `error`: the Bedrock error `error` (ThrottlingException, ModelTimeoutException, ...) after `delay_s`.

Templates are Jinja2 (sandboxed) over what the request holds: `candidates` (hypothesis-like JSON objects found in
the messages: `key` - the label before it, as in `- h1: {...}` -, `category`, `culprit`, `confidence`,
`evidence_ids`), `evidence_ids` (every `ev-<16 hex>` id in
the messages, first seen first), `tools` (names offered, the structured-output tool excluded), `turn`, `model_id`.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, model_validator

SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "llm_scripts"
EVIDENCE_ID = re.compile(r"\bev-[0-9a-f]{16}\b")
LABEL = re.compile(r"([A-Za-z][\w.-]*)\s*:\s*$")
_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reply: Literal["structured", "text", "tool_use", "error"]
    output: str = ""
    text: str = ""
    tool: str = ""
    input: str = "{}"
    error: str = ""
    message: str = ""
    delay_s: float = Field(default=0.0, ge=0.0, le=600.0)

    @model_validator(mode="after")
    def _complete(self) -> Turn:
        needed = {"structured": "output", "text": "text", "tool_use": "tool", "error": "error"}[self.reply]
        if not getattr(self, needed):
            raise ValueError(f"a '{self.reply}' turn needs '{needed}'")
        return self


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    adversarial: bool = False
    latency_ms: int = Field(default=0, ge=0)
    turns: list[Turn] = Field(min_length=1)

    def turn(self, index: int) -> Turn:
        return self.turns[min(index, len(self.turns) - 1)]


class ScriptError(ValueError):
    """A script file that cannot be used (named in the message)."""


def load_script(path: Path) -> Script:
    try:
        data = yaml.safe_load(path.read_text())
        return Script.model_validate(data)
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ScriptError(f"LLM script {path}: {exc}") from exc


@cache
def bundled_scripts() -> dict[str, Script]:
    """The scripts shipped with the sandbox, by name (`helpful` first, then the adversarial ones by name)."""
    found = {s.name: s for s in (load_script(p) for p in sorted(SCRIPTS_DIR.glob("*.yaml")))}
    return dict(sorted(found.items(), key=lambda item: (item[1].adversarial, item[0])))


def _texts(value: Any) -> list[str]:
    """Every string inside a Converse message list (text, tool inputs and results), depth first."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _json_objects(text: str) -> list[tuple[str | None, Any]]:
    """The JSON values embedded in `text` (outermost only), wherever a `{` or `[` starts one, each with the
    label written just before it on its line (`- h1: {...}` -> `h1`), if any."""
    decoder, found, position = json.JSONDecoder(), [], 0
    while (start := _next_opening(text, position)) >= 0:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            position = start + 1
            continue
        label = LABEL.search(text[text.rfind("\n", 0, start) + 1 : start])
        found.append((label.group(1) if label else None, value))
        position = end
    return found


def _next_opening(text: str, position: int) -> int:
    hits = [i for i in (text.find("{", position), text.find("[", position)) if i >= 0]
    return min(hits) if hits else -1


def _hypothesis_like(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [h for v in value for h in _hypothesis_like(v)]
    if not isinstance(value, dict):
        return []
    if "category" in value and isinstance(value["category"], str):
        return [value]
    return [h for v in value.values() for h in _hypothesis_like(v)]


def _candidate(raw: dict[str, Any], key: str | None) -> dict[str, Any]:
    return {
        "key": key,
        "category": raw["category"],
        "culprit": raw.get("culprit"),
        "confidence": raw.get("confidence"),
        "evidence_ids": _unique(EVIDENCE_ID.findall(json.dumps(raw))),
    }


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def request_context(model_id: str, request: dict[str, Any], structured_tool: str | None) -> dict[str, Any]:
    """What a template may use, read from one Converse request."""
    messages = request.get("messages") or []
    texts = _texts(request.get("system") or []) + _texts(messages)
    candidates: list[dict[str, Any]] = []
    for text in texts:
        for label, value in _json_objects(text):
            found = _hypothesis_like(value)
            candidates += [_candidate(h, label if len(found) == 1 else None) for h in found]
    tools = [
        spec["toolSpec"]["name"]
        for spec in (request.get("toolConfig") or {}).get("tools", [])
        if "toolSpec" in spec and spec["toolSpec"].get("name") != structured_tool
    ]
    return {
        "model_id": model_id,
        "turn": sum(1 for m in messages if m.get("role") == "assistant"),
        "candidates": _dedupe_candidates(candidates),
        "evidence_ids": _unique([i for text in texts for i in EVIDENCE_ID.findall(text)]),
        "tools": tools,
    }


def _dedupe_candidates(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, Any], dict[str, Any]] = {}
    for candidate in candidates:
        seen.setdefault((candidate["category"], candidate["culprit"]), candidate)
    return list(seen.values())


def render(template: str, context: dict[str, Any]) -> str:
    return _ENV.from_string(template).render(**context).strip()
