"""report: persist what was found and proposed, move the incident on, and queue the ticket/issue updates."""

from __future__ import annotations

from typing import Any

from oncall_agent.domain.action import PolicyDecision, ProposedAction
from oncall_agent.domain.evidence import Evidence, Hypothesis
from oncall_agent.domain.incident import IncidentStatus
from oncall_agent.investigation.deps import Deps
from oncall_agent.investigation.state import InvestigationState


def needs_approval(actions: list[dict[str, Any]]) -> bool:
    return any(a["policy"] == PolicyDecision.APPROVAL.value for a in actions)


def view(state: InvestigationState) -> dict[str, Any]:
    """Everything the ticket/issue renderers need, as plain data."""
    return {
        "scope": state["scope"],
        "hypotheses": state.get("hypotheses", []),
        "evidence": state.get("evidence", []),
        "actions": state.get("actions", []),
        "llm": state.get("llm"),
    }


def make(deps: Deps) -> Any:
    def report(state: InvestigationState) -> dict[str, Any]:
        incident_id = state["incident_id"]
        actions = [ProposedAction.model_validate(a) for a in state.get("actions", [])]
        deps.actions.save_proposed(actions)  # idempotent by action id: safe when the node is replayed
        hypotheses = [Hypothesis.model_validate(h) for h in state.get("hypotheses", [])]
        top = hypotheses[0] if hypotheses else None
        headline = f"{top.category.value} {top.culprit or ''} ({top.confidence:.2f})" if top else "no hypothesis"
        waiting = needs_approval(state.get("actions", []))
        deps.results.record(
            incident_id,
            found=[Evidence.model_validate(e) for e in state.get("evidence", [])],
            ranked=hypotheses,
            status=IncidentStatus.AWAITING_APPROVAL if waiting else None,
            note="waiting for approval" if waiting else "",
            timeline=(
                "hypotheses",
                f"top hypothesis: {headline}",
                {
                    "count": len(hypotheses),
                    "source_seconds": state.get("source_seconds", {}),
                    "source_calls": state.get("source_calls", {}),
                    **({"llm": state["llm"]} if state.get("llm") else {}),
                },
            ),
            outbox=deps.messenger.opened(view(state)),
        )
        return {}

    return report
