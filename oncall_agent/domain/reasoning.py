"""What an LLM may say about an investigation (the structured output it must return) and what one call cost.

The schema is deliberately narrow: a ranking of the candidate hypotheses it was shown (by their keys), at most a
few new hypotheses that cite evidence ids, counter-evidence, unknowns and a narrative. There is no field for an
action: whatever the model writes, nothing here can become one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from oncall_agent.domain.evidence import Category

MAX_NEW_HYPOTHESES = 3
MAX_TEXT = 1000


class RankedCandidate(BaseModel):
    """One candidate hypothesis (its key as shown in the prompt, e.g. `h2`) and why it ranks where it does."""

    key: str = Field(description="the candidate's key as shown, e.g. h1")
    reason: str = Field(default="", max_length=MAX_TEXT)
    cites: list[str] = Field(default_factory=list, description="evidence ids that support this placement")


class NewHypothesis(BaseModel):
    """A cause the correlator did not name; it must cite existing evidence ids or it is dropped."""

    category: Category
    culprit: str | None = Field(default=None, max_length=200)
    summary: str = Field(max_length=MAX_TEXT)
    cites: list[str] = Field(min_length=1)


class CounterEvidence(BaseModel):
    key: str = Field(description="the candidate's key, e.g. h1")
    evidence_id: str
    reason: str = Field(default="", max_length=MAX_TEXT)


class Lookup(BaseModel):
    """A read-only look further that the model asks for before it answers; the agent runs it (budgeted) and the
    result comes back as evidence. The tools are an allow-list: nothing else can be asked for."""

    tool: Literal["logs", "neighbourhood_metrics", "deploys", "cloudtrail", "past_incidents", "change_summary"]
    target: str = Field(
        max_length=300,
        description="a service name (a resource name or ARN for cloudtrail; `service@ref` or `ref`, a commit sha "
        "or pull request #number, for change_summary)",
    )
    why: str = Field(default="", max_length=MAX_TEXT)


class Reasoning(BaseModel):
    """The structured output the model must return (tool use in Converse)."""

    ranking: list[RankedCandidate] = Field(default_factory=list, description="most likely first")
    new_hypotheses: list[NewHypothesis] = Field(default_factory=list)
    counter_evidence: list[CounterEvidence] = Field(default_factory=list)
    unknowns: list[str] = Field(default_factory=list, description="what is still unknown and would settle it")
    narrative: str = Field(default="", max_length=2000, description="a short narrative for the incident ticket")
    lookups: list[Lookup] = Field(
        default_factory=list, description="read-only lookups to run before answering (only while some are left)"
    )


class FailureKind(StrEnum):
    THROTTLED = "throttled"
    TIMEOUT = "timeout"
    ACCESS_DENIED = "access_denied"
    MODEL_NOT_ENABLED = "model_not_enabled"
    INVALID_OUTPUT = "invalid_output"
    DEADLINE = "deadline"  # the investigation's own wall-time budget for the model ran out
    ERROR = "error"


class ReasoningFailed(Exception):
    """A model call that did not produce a usable answer; `kind` says which failure it was."""

    def __init__(self, kind: FailureKind, message: str, usage: Usage | None = None) -> None:
        super().__init__(f"{kind.value}: {message}")
        self.kind = kind
        self.message = message
        self.usage = usage


class Usage(BaseModel):
    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str | None = None


class ReasoningReply(BaseModel):
    """What one call returned: the answer, the tokens it used, and the model and prompt version it ran on."""

    model_config = ConfigDict(frozen=True)

    reasoning: Reasoning
    usage: Usage
    model_id: str
    latency_seconds: float = 0.0


def usage_line(totals: dict[str, object]) -> str:
    """One line on what the model cost an investigation, for people (CLI, tickets, console)."""
    cost = totals.get("cost_usd")
    priced = f"${cost:.4f}" if isinstance(cost, int | float) else "cost unknown (no price for the model)"
    failure = f"; failed: {totals['failure']}" if totals.get("failure") else ""
    return (
        f"{totals.get('model_id') or 'model'} ({totals.get('prompt_version', '')}): {totals.get('calls', 0)} call(s), "
        f"{totals.get('input_tokens', 0)} tokens in, {totals.get('output_tokens', 0)} out, "
        f"{float(str(totals.get('latency_seconds') or 0)):.1f} s, {priced}{failure}"
    )
