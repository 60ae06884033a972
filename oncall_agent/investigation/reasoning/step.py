"""The guarded call: render the prompt, ask the model within the deadline (in rounds while it asks for read-only
lookups and the budgets allow), check its citations, combine the rankings, and account for it. Any failure
leaves the correlator's ranking as it was and becomes a `gap`; what the lookups found stays as evidence."""

from __future__ import annotations

import concurrent.futures
import contextvars
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Tracer

from oncall_agent.domain.evidence import Evidence, EvidenceKind, Hypothesis
from oncall_agent.domain.reasoning import FailureKind, ReasoningFailed, ReasoningReply, Usage
from oncall_agent.investigation.deps import LlmLimits
from oncall_agent.investigation.reasoning.citations import check_citations
from oncall_agent.investigation.reasoning.combine import combine
from oncall_agent.investigation.reasoning.lookups import RunLookup
from oncall_agent.investigation.reasoning.prompt import Prompt, PromptLimits, render
from oncall_agent.investigation.reasoning.spans import (
    agent_span,
    answered,
    chat_span,
    failed,
    tool_span,
    tracer_or_default,
)
from oncall_agent.ports import Reasoner

SOURCE = "llm"


@dataclass(frozen=True)
class Outcome:
    hypotheses: list[Hypothesis]  # what the incident shows (the plan keeps reading the correlator's)
    added: list[Evidence]  # gaps, and what the model's lookups found
    totals: dict[str, Any]  # per-investigation figures and the narrative, stored with the incident


@dataclass
class Tally:
    """What the rounds used so far: calls, tokens, lookups, and the evidence the lookups found."""

    started: float
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str | None = None
    tool_calls: int = 0
    found: list[Evidence] = field(default_factory=list)
    gaps: list[Evidence] = field(default_factory=list)

    def spent(self, usage: Usage | None) -> None:
        if usage is not None:
            self.input_tokens += usage.input_tokens
            self.output_tokens += usage.output_tokens
            self.stop_reason = usage.stop_reason


def gap(model_id: str, what: str, summary: str, version: str) -> Evidence:
    return Evidence(
        kind=EvidenceKind.GAP,
        source=SOURCE,
        entity=model_id or "llm",
        summary=summary,
        details={"gap": what, "prompt_version": version},
    )


def cost(input_tokens: int, output_tokens: int, price: tuple[float, float] | None) -> float | None:
    if price is None:
        return None
    return round((input_tokens * price[0] + output_tokens * price[1]) / 1e6, 6)


def call_within(reasoner: Reasoner, prompt: Prompt, deadline: float) -> ReasoningReply:
    """The model's answer, or ReasoningFailed(DEADLINE) when it takes longer than `deadline` seconds: the
    investigation goes on without it (the call is left to finish on its own thread and its answer dropped)."""
    if deadline <= 0:
        raise ReasoningFailed(FailureKind.DEADLINE, "no time left in the budget")
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="reason")
    # In the caller's context: the model call's `chat` span is a child of the reason step's `invoke_agent`.
    future = pool.submit(contextvars.copy_context().run, reasoner.reason, prompt.system, prompt.text)
    try:
        return future.result(timeout=deadline)
    except concurrent.futures.TimeoutError as exc:
        raise ReasoningFailed(FailureKind.DEADLINE, f"no answer within the {deadline:.1f} s left") from exc
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _totals(limits: LlmLimits, prompt: Prompt, tally: Tally, latency: float) -> dict[str, Any]:
    return {
        "model_id": limits.model_id,
        "prompt_version": prompt.version,
        "calls": tally.calls,
        "tool_calls": tally.tool_calls,
        "input_tokens": tally.input_tokens,
        "output_tokens": tally.output_tokens,
        "stop_reason": tally.stop_reason,
        "latency_seconds": round(latency, 3),
        "cost_usd": cost(tally.input_tokens, tally.output_tokens, limits.price_per_million),
        "evidence_left_out": prompt.left_out,
    }


@dataclass(frozen=True)
class Ask:
    """One investigation's fixed inputs to the rounds."""

    scope: dict[str, Any]
    evidence: list[Evidence]
    hypotheses: list[Hypothesis]
    reasoner: Reasoner
    limits: LlmLimits
    lookup: RunLookup | None
    services: tuple[str, ...]
    monotonic: Callable[[], float]
    tracer: Tracer

    def left(self, tally: Tally) -> float:
        return self.limits.deadline_seconds - (self.monotonic() - tally.started)

    def prompt(self, tally: Tally, last: bool) -> Prompt:
        limits = self.limits
        lookups = 0 if last or self.lookup is None else max(0, limits.max_tool_calls - tally.tool_calls)
        shape = PromptLimits(
            limits.evidence_items,
            limits.evidence_chars,
            limits.max_new_hypotheses,
            limits.max_input_tokens,
            lookups_left=lookups,
            services=self.services,
        )
        return render(self.scope, [*self.evidence, *tally.found], self.hypotheses, shape)


def reason_over(
    scope: dict[str, Any],
    evidence: list[Evidence],
    hypotheses: list[Hypothesis],
    reasoner: Reasoner,
    limits: LlmLimits,
    abstain_below: float,
    monotonic: Callable[[], float] = time.monotonic,
    lookup: RunLookup | None = None,
    services: Sequence[str] = (),
    tracer: Tracer | None = None,
) -> Outcome:
    ask = Ask(
        scope, evidence, hypotheses, reasoner, limits, lookup, tuple(services), monotonic, tracer_or_default(tracer)
    )
    tally = Tally(started=monotonic())
    with agent_span(ask.tracer, limits.model_id, str(scope.get("incident_id", "")), limits.provider) as span:
        outcome = _rounds(ask, tally, abstain_below)
        answered(span, tally.input_tokens, tally.output_tokens, tally.stop_reason)
        if outcome.totals.get("failure"):
            failed(span, str(outcome.totals["failure"]), "the correlator's ranking stands")
    return outcome


def _call(ask: Ask, tally: Tally, prompt: Prompt) -> ReasoningReply:
    """One model call inside its `chat` span; counted (and its tokens, when it reports them) even when it fails."""
    tally.calls += 1
    with chat_span(ask.tracer, ask.limits.model_id, prompt.version, ask.limits.provider) as span:
        try:
            reply = call_within(ask.reasoner, prompt, ask.left(tally))
        except ReasoningFailed as exc:
            tally.spent(exc.usage)
            if exc.usage is not None:  # an invalid answer still used (and billed) its tokens
                answered(span, exc.usage.input_tokens, exc.usage.output_tokens, exc.usage.stop_reason)
            failed(span, exc.kind.value, exc.message)
            raise
        except Exception as exc:
            failed(span, type(exc).__name__, str(exc))
            raise
        tally.spent(reply.usage)
        answered(span, reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.stop_reason)
        return reply


def _rounds(ask: Ask, tally: Tally, abstain_below: float) -> Outcome:
    limits = ask.limits
    reply: ReasoningReply | None = None
    prompt = ask.prompt(tally, last=True)
    for round_no in range(limits.max_rounds):
        prompt = ask.prompt(tally, last=round_no == limits.max_rounds - 1)
        if prompt.estimated_tokens() > limits.max_input_tokens:
            return _failed(
                ask, tally, prompt, "token_budget", f"the prompt exceeds the {limits.max_input_tokens}-token budget"
            )
        try:
            reply = _call(ask, tally, prompt)
        except ReasoningFailed as exc:
            return _failed(ask, tally, prompt, exc.kind.value, exc.message)
        except Exception as exc:  # noqa: BLE001 - whatever the model's client raises, the investigation goes on
            return _failed(ask, tally, prompt, FailureKind.ERROR.value, repr(exc)[:300])
        if not _looked_further(ask, tally, reply, prompt):
            break
    assert reply is not None  # max_rounds >= 1
    return _answered(ask, tally, reply, prompt, abstain_below)


def _looked_further(ask: Ask, tally: Tally, reply: ReasoningReply, prompt: Prompt) -> bool:
    """Run the lookups the model asked for, within the tool-call budget and the time left; False: it answered."""
    wanted = reply.reasoning.lookups
    if not wanted:
        return False
    budget = prompt.lookups_left
    run, cut = wanted[:budget], len(wanted) - min(budget, len(wanted))
    known = {e.id for e in [*ask.evidence, *tally.found]}
    for request in run:
        if ask.lookup is None or ask.left(tally) <= 0:
            cut += 1
            continue
        tally.tool_calls += 1
        with tool_span(ask.tracer, request.tool, request.target) as span:
            new = [e for e in ask.lookup(request, ask.left(tally)) if e.id not in known]
            span.set_attribute("oncall.evidence.found", len(new))
        tally.found.extend(new)
        known = {e.id for e in [*ask.evidence, *tally.found]}
    if cut:
        why = f"{cut} lookup(s) the model asked for were not run: the tool-call, round or time budget is used up"
        tally.gaps.append(gap(ask.limits.model_id, "tool_budget", why, prompt.version))
    return bool(run)


def _failed(ask: Ask, tally: Tally, prompt: Prompt, kind: str, message: str) -> Outcome:
    summary = f"LLM reasoning failed ({kind}): {message}. The correlator's ranking stands."
    totals = {**_totals(ask.limits, prompt, tally, ask.monotonic() - tally.started), "failure": kind}
    added = [
        *_left_out(ask, prompt),
        *tally.found,
        *tally.gaps,
        gap(ask.limits.model_id, kind, summary, prompt.version),
    ]
    return Outcome(list(ask.hypotheses), added, totals)


def _left_out(ask: Ask, prompt: Prompt) -> list[Evidence]:
    if not prompt.left_out:
        return []
    total = prompt.left_out + len(prompt.shown_ids)
    summary = (
        f"{prompt.left_out} of {total} evidence items were not shown to the model (evidence_items and "
        "max_input_tokens budgets)"
    )
    return [gap(ask.limits.model_id, "evidence_budget", summary, prompt.version)]


def _answered(ask: Ask, tally: Tally, reply: ReasoningReply, prompt: Prompt, abstain_below: float) -> Outcome:
    ids = {e.id for e in [*ask.evidence, *tally.found]}
    checked = check_citations(reply.reasoning, ids, prompt.keys, ask.limits.max_new_hypotheses)
    combined = combine(ask.hypotheses, prompt.keys, checked.reasoning, abstain_below)
    totals = {
        **_totals(ask.limits, prompt, tally, ask.monotonic() - tally.started),
        "failure": None,
        "dropped_claims": checked.dropped,
        "narrative": checked.reasoning.narrative,
        "unknowns": checked.reasoning.unknowns[:10],
        "model_top": combined.model_top,
        "disagreement": combined.disagreement,
    }
    added = [*_left_out(ask, prompt), *tally.found, *tally.gaps]
    if checked.dropped:
        summary = (
            f"{checked.dropped} claims of the model were dropped: they cited evidence or candidates that do not exist"
        )
        added.append(gap(ask.limits.model_id, "dropped_claims", summary, prompt.version))
    return Outcome(combined.hypotheses, added, totals)
