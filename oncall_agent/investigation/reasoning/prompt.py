"""The prompt for the reason step, rendered from `prompts/*.md.j2`, with a version that changes whenever a template
does (recorded on every call). Evidence goes in as one JSON object per line: quoted, truncated, marked untrusted;
`<` and `>` are escaped so no item can close the block it sits in."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from oncall_agent.domain.evidence import Category, Evidence, EvidenceKind, Hypothesis

PROMPTS = Path(__file__).resolve().parent / "prompts"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PROMPTS),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # noqa: S701 - the output is a prompt, not HTML; untrusted text is JSON-quoted instead
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
TEMPLATES = ("system.md.j2", "reason.md.j2")
CHARS_PER_TOKEN = 4  # a conservative estimate for English and JSON (Bedrock counts the real tokens)


def prompt_version() -> str:
    digest = hashlib.sha256()
    for name in TEMPLATES:
        digest.update((PROMPTS / name).read_bytes())
    return f"reason-{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class Prompt:
    system: str
    text: str
    version: str
    keys: dict[str, int]  # candidate key (h1, h2 ...) -> index in the hypotheses list
    shown_ids: frozenset[str]
    left_out: int  # evidence items not shown (count or token budget)
    lookups_left: int = 0  # the read-only lookups this prompt offers

    def estimated_tokens(self) -> int:
        return (len(self.system) + len(self.text)) // CHARS_PER_TOKEN


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quoted(value: Any) -> str:
    """One JSON line; `<`, `>` and `&` escaped so the text can never form the block's end marker or a tag."""
    line = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return line.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def evidence_line(item: Evidence, chars: int) -> str:
    return quoted(
        {
            "id": item.id,
            "kind": item.kind.value,
            "source": item.source,
            "at": item.at.isoformat() if item.at else None,
            "entity": cut(item.entity, chars),
            "summary": cut(item.summary, chars),
            "details": cut(json.dumps(item.details, default=str, sort_keys=True), chars),
        }
    )


def ordered_evidence(evidence: list[Evidence], hypotheses: list[Hypothesis]) -> list[Evidence]:
    """What the candidates cite first (in rank order), then the rest; what the walk looked at comes last."""
    cited = [i for h in hypotheses for i in (*h.evidence_for, *h.evidence_against)]
    position = {eid: n for n, eid in reversed(list(enumerate(cited)))}
    return sorted(
        evidence,
        key=lambda e: (e.id not in position, position.get(e.id, 0), e.kind is EvidenceKind.LOOKED_AT),
    )


def candidate_keys(hypotheses: list[Hypothesis]) -> dict[str, int]:
    """h1, h2 ... for the candidates the model may rank (`unknown`, the abstention, is not a cause to rank)."""
    indexes = [n for n, h in enumerate(hypotheses) if h.category is not Category.UNKNOWN]
    return {f"h{k}": n for k, n in enumerate(indexes, start=1)}


def candidate_line(h: Hypothesis, chars: int) -> str:
    return quoted(
        {
            "category": h.category.value,
            "culprit": cut(h.culprit or "", chars),
            "confidence": round(h.confidence, 3),
            "summary": cut(h.summary, chars),
            "evidence_for": h.evidence_for,
            "evidence_against": h.evidence_against,
        }
    )


@dataclass(frozen=True)
class PromptLimits:
    items: int
    chars: int
    max_new: int
    max_input_tokens: int
    lookups_left: int = 0  # read-only lookups the model may still ask for (0: it must answer now)
    services: tuple[str, ...] = ()  # the services a lookup may name: the incident's and its neighbours


def _render(
    scope: dict[str, Any], evidence: list[Evidence], hypotheses: list[Hypothesis], shown: int, limits: PromptLimits
) -> Prompt:
    keys = candidate_keys(hypotheses)
    categories = [c.value for c in Category if c is not Category.UNKNOWN]
    system = _ENV.get_template("system.md.j2").render(keys=list(keys), max_new=limits.max_new, categories=categories)
    chosen = evidence[:shown]
    text = _ENV.get_template("reason.md.j2").render(
        alarm=quoted(cut(str(scope.get("alarm_name", "")), limits.chars)),
        service=quoted(cut(str(scope.get("service", "")), limits.chars)),
        region=quoted(str(scope.get("region", ""))),
        candidates=[{"key": k, "line": candidate_line(hypotheses[n], limits.chars)} for k, n in keys.items()],
        evidence=[evidence_line(e, limits.chars) for e in chosen],
        shown=len(chosen),
        total=len(evidence),
        chars=limits.chars,
        keys=list(keys),
        max_new=limits.max_new,
        lookups_left=limits.lookups_left,
        services=", ".join(quoted(s) for s in limits.services),
    )
    shown_ids = frozenset(e.id for e in chosen)
    return Prompt(system, text, prompt_version(), keys, shown_ids, len(evidence) - len(chosen), limits.lookups_left)


def render(
    scope: dict[str, Any], evidence: list[Evidence], hypotheses: list[Hypothesis], limits: PromptLimits
) -> Prompt:
    """The prompt with as much evidence as fits: at most `items` items, then halved until the estimate fits the
    input-token budget (what is left out is counted; the caller records it as a gap)."""
    ordered = ordered_evidence(evidence, hypotheses)
    shown = min(limits.items, len(ordered))
    prompt = _render(scope, ordered, hypotheses, shown, limits)
    while prompt.estimated_tokens() > limits.max_input_tokens and shown > 0:
        shown //= 2
        prompt = _render(scope, ordered, hypotheses, shown, limits)
    return prompt
