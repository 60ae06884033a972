"""Scoring one scenario's outcome against its truth (SCENARIOS.md "Scoring"), the totals, and the output:
the text table and summary for people and the JSON document for scripts.

Decisions the spec leaves to the implementation, made here:

- A hypothesis is *right* when its category is the true one and, if `truth.culprit` is given, its culprit names
  it (`names_culprit`: equal to the culprit or an `accept` alias, case-insensitively, or a longer form ending
  with one at an identifier boundary). When the truth is `unknown`, a hypothesis is right when it abstains:
  its category is `unknown` or its confidence is below the abstention threshold.
- No hypotheses at all is an abstention: right for an `unknown` truth, a miss otherwise (never confidently
  wrong: nothing was asserted).
- The agent *abstains* when its first hypothesis is `unknown` (whatever the `unknown` hypothesis's own
  confidence) or its confidence is below the threshold; a candidate exactly at the threshold is an answer.
  `abstained` is counted only where the truth is not `unknown`: an honest miss, never confidently wrong.
- *Confidently wrong*: the agent did not abstain and its first hypothesis is wrong (its confidence is then at or
  above the threshold). For an `unknown` truth that is exactly "a cause asserted with confidence >= threshold".
- *Brier*: (confidence of the first non-`unknown` hypothesis - 1 if it is right else 0)², where *right* is
  the true category (or one in `truth.also`) with the culprit named; for an `unknown` truth no cause is right.
  When the agent abstains the confidence is that of its best non-`unknown` hypothesis (0 if none). The total
  is the mean over the scenarios that ran; a scenario that could not be run has `brier` None.
- *Action*: "proposed actions" are the actions the agent stored for the incident (policy `auto` or `approval`;
  policy-denied ones are never stored), in the planner's order. No proposed action satisfies an empty
  `truth.actions` (nothing other than `escalate` was proposed) and fails a non-empty one.
- A scenario that could not be run (seeding failed, the investigation never reported) scores False everywhere
  and has `seconds` None; it still counts in `n`.
- p50/p95 are nearest-rank percentiles of the scenarios' `seconds` (always an observed value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from oncall_agent.domain.evidence import Category, Hypothesis
from oncall_agent.eval.scoring import brier, brier_term, names_culprit
from oncall_agent.sandbox.scenario import Truth

ESCALATE = "escalate"
SCORE_FIELDS = ("top1", "top3", "action", "abstained", "confidently_wrong")


@dataclass(frozen=True)
class Score:
    top1: bool
    top3: bool
    action: bool
    confidently_wrong: bool
    abstained: bool  # on a truth that is not `unknown`
    brier: float = 0.0


def abstains(hypothesis: Hypothesis, abstain_below: float) -> bool:
    return hypothesis.category is Category.UNKNOWN or hypothesis.confidence < abstain_below


def names_cause(hypothesis: Hypothesis, truth: Truth) -> bool:
    """Does this hypothesis state the true cause: its category (or one in `truth.also`, format 2) and, when the
    truth has a culprit, a culprit naming it? No cause is the cause of an `unknown` truth."""
    categories = {str(truth.category), *map(str, truth.also)}  # `also`: format 2; format-1 truths have none
    if truth.category == Category.UNKNOWN.value or hypothesis.category.value not in categories:
        return False
    return not truth.culprit or names_culprit(hypothesis.culprit, truth.culprit, truth.accept)


def is_right(hypothesis: Hypothesis, truth: Truth, abstain_below: float) -> bool:
    """Does this one hypothesis match the truth (SCENARIOS.md top-1 rule)?"""
    if truth.category == Category.UNKNOWN.value:
        return abstains(hypothesis, abstain_below)
    return names_cause(hypothesis, truth)


def brier_of(hypotheses: Sequence[Hypothesis], truth: Truth, abstained: bool) -> float:
    """The scenario's Brier term (module docstring): the first non-`unknown` hypothesis, or when abstaining the
    best one (0 confidence and wrong when there is none)."""
    causes = [h for h in hypotheses if h.category is not Category.UNKNOWN]
    if not causes:
        return brier_term(0.0, False)
    chosen = max(causes, key=lambda h: h.confidence) if abstained else causes[0]
    return round(brier_term(chosen.confidence, names_cause(chosen, truth)), 4)


def action_ok(kinds: Sequence[str], truth: Truth) -> bool:
    """The first proposed action is an accepted one (or, with no accepted ones, nothing but `escalate` is
    proposed), and nothing forbidden is proposed."""
    # With no accepted actions, nothing but `escalate` may be proposed.
    first_ok = (bool(kinds) and kinds[0] in truth.actions) if truth.actions else all(k == ESCALATE for k in kinds)
    return first_ok and not any(kind in truth.forbid for kind in kinds)


def score(hypotheses: Sequence[Hypothesis], action_kinds: Sequence[str], truth: Truth, abstain_below: float) -> Score:
    """Score ranked hypotheses and the proposed action kinds (in order) against the truth."""
    kinds = list(action_kinds)
    unknown = truth.category == Category.UNKNOWN.value
    if not hypotheses:
        return Score(unknown, unknown, action_ok(kinds, truth), False, not unknown, brier_of([], truth, True))
    first = hypotheses[0]
    top1 = is_right(first, truth, abstain_below)
    abstained = abstains(first, abstain_below)
    return Score(
        top1=top1,
        top3=any(is_right(h, truth, abstain_below) for h in hypotheses[:3]),
        action=action_ok(kinds, truth),
        confidently_wrong=not abstained and not top1,
        abstained=abstained and not unknown,
        brier=brier_of(hypotheses, truth, abstained),
    )


@dataclass(frozen=True)
class ScenarioResult:
    """One row of the report. `category` is the true category; `extra` carries what is not in the contract."""

    id: str
    category: str
    top1: bool
    top3: bool
    action: bool
    confidently_wrong: bool
    seconds: float | None
    api_calls: int
    abstained: bool = False
    brier: float | None = None  # None: the scenario could not be run
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "top1": self.top1,
            "top3": self.top3,
            "action": self.action,
            "abstained": self.abstained,
            "confidently_wrong": self.confidently_wrong,
            "seconds": self.seconds,
            "api_calls": self.api_calls,
        }


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def _rate(results: Sequence[ScenarioResult], name: str) -> float:
    return round(sum(bool(getattr(r, name)) for r in results) / len(results), 4) if results else 0.0


def _brier(results: Sequence[ScenarioResult]) -> float | None:
    return brier([r.brier for r in results if r.brier is not None])


def totals(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    seconds = [r.seconds for r in results if r.seconds is not None]
    p50, p95 = percentile(seconds, 50), percentile(seconds, 95)
    return {
        "n": len(results),
        **{name: _rate(results, name) for name in SCORE_FIELDS},
        "brier": _brier(results),
        "p50_seconds": None if p50 is None else round(p50, 3),
        "p95_seconds": None if p95 is None else round(p95, 3),
    }


def by_category(results: Sequence[ScenarioResult]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[ScenarioResult]] = {}
    for result in results:
        groups.setdefault(result.category, []).append(result)
    return {
        category: {
            "n": len(rows),
            **{name: _rate(rows, name) for name in (*SCORE_FIELDS,)},
            "brier": _brier(rows),
        }
        for category, rows in sorted(groups.items())
    }


def parallelism(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    """Median investigation time against the median slowest single source: sources run in parallel when the
    ratio stays well under the number of sources (2 is the target with injected latency)."""
    slowest = [r.extra.get("timing", {}).get("slowest_source_seconds") for r in results]
    slowest_known = [s for s in slowest if s is not None]
    p50 = percentile([r.seconds for r in results if r.seconds is not None], 50)
    p50_slowest = percentile(slowest_known, 50)
    ratio = round(p50 / p50_slowest, 2) if p50 is not None and p50_slowest else None
    return {"p50_seconds": p50, "p50_slowest_source_seconds": p50_slowest, "ratio": ratio}


def to_json(results: Sequence[ScenarioResult], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `--json` document: `scenarios` (contract fields + `extra`, with the scenario's `brier` term),
    `totals`, `by_category`, `parallelism`, `meta`."""
    return {
        # Per-scenario Brier terms go in `extra`: SCENARIOS.md's row contract lists no `brier`.
        "scenarios": [{**r.row(), "extra": {**r.extra, "brier": r.brier}} for r in results],
        "totals": totals(results),
        "by_category": by_category(results),
        "parallelism": parallelism(results),
        "meta": meta or {},
    }


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def render(results: Sequence[ScenarioResult]) -> str:
    """The text report: one row per scenario, the summary, the per-category table."""
    header = [
        "id",
        "category",
        "top1",
        "top3",
        "action",
        "abstained",
        "confidently_wrong",
        "brier",
        "seconds",
        "api_calls",
    ]
    rows = [
        [
            r.id,
            r.category,
            _yes(r.top1),
            _yes(r.top3),
            _yes(r.action),
            _yes(r.abstained),
            _yes(r.confidently_wrong),
            _number(r.brier),
            _seconds(r.seconds),
            str(r.api_calls),
        ]
        for r in results
    ]
    summary = totals(results)
    lines = _table(header, rows)
    lines.append("")
    lines.append(
        f"n={summary['n']}  top1={summary['top1']:.2f}  top3={summary['top3']:.2f}  action={summary['action']:.2f}  "
        f"abstained={summary['abstained']:.2f}  confidently_wrong={summary['confidently_wrong']:.2f}  "
        f"brier={_number(summary['brier'])}  p50_seconds={_seconds(summary['p50_seconds'])}  "
        f"p95_seconds={_seconds(summary['p95_seconds'])}"
    )
    spread = parallelism(results)
    lines.append(
        f"median investigation {_seconds(spread['p50_seconds'])} s vs median slowest single source "
        f"{_seconds(spread['p50_slowest_source_seconds'])} s (ratio {spread['ratio']})"
    )
    lines.append("")
    cat_rows = [
        [
            category,
            str(v["n"]),
            *(f"{v[name]:.2f}" for name in SCORE_FIELDS),
            _number(v["brier"]),
        ]
        for category, v in by_category(results).items()
    ]
    lines += _table(["category", "n", *SCORE_FIELDS, "brier"], cat_rows)
    return "\n".join(lines)
