"""Planning: the allow-listed actions runbooks offer for the top hypotheses, each with its policy decision.

Deterministic and LLM-free: hypotheses in, runbooks matched, parameter templates rendered from facts
(the catalog entry, the hypothesis, the culprit deploy's record, the alarm), digests computed, the Cedar
policy consulted (its decision, and for APPROVAL the group that may approve, travel with the action). An
action whose template cannot be filled, or whose kind the policy denies, is not proposed; `plan` records why
in `Plan.skipped`. Action ids are stable (incident id + digest), so planning the same thing again yields the
same ids. Order: concrete actions first, `escalate` last.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from oncall_agent.domain.action import PolicyDecision, ProposedAction, action_digest
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.evidence import Evidence, EvidenceKind, Hypothesis
from oncall_agent.response.policy import Decision
from oncall_agent.response.runbooks import RenderError, Runbook, RunbookAction, match, render_parameters

ESCALATE = "escalate"
SECOND_WITHIN = 0.1  # the second hypothesis is planned for too when its confidence is this close to the top's


class Policy(Protocol):
    def evaluate(self, kind: str, service: Service) -> Decision:
        """The decision, its reasons and, for APPROVAL, the group that may approve (the owning team)."""
        ...


@dataclass(frozen=True)
class Skipped:
    runbook_id: str
    kind: str
    reason: str


@dataclass(frozen=True)
class Plan:
    actions: list[ProposedAction]
    skipped: list[Skipped] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)  # action id -> policy reasons
    expires_at: datetime | None = None


def action_id(incident_id: str, digest: str) -> str:
    """Stable: the same action for the same incident always has the same id."""
    return "act-" + hashlib.sha256(f"{incident_id}:{digest}".encode()).hexdigest()[:12]


def planned_hypotheses(hypotheses: Sequence[Hypothesis], within: float = SECOND_WITHIN) -> list[Hypothesis]:
    """The top hypothesis, and the second when its confidence is within `within` of the top's."""
    if not hypotheses:
        return []
    top = hypotheses[0]
    chosen = [top]
    if len(hypotheses) > 1 and top.confidence - hypotheses[1].confidence <= within:
        chosen.append(hypotheses[1])
    return chosen


def _deploy_kind_of(service: Service) -> str | None:
    for kind, target in (("ecs", service.ecs), ("lambda", service.lambda_), ("codedeploy", service.codedeploy)):
        if target is not None:
            return kind
    return None


def culprit_deploy(hypothesis: Hypothesis, evidence_by_id: Mapping[str, Evidence], service: Service) -> dict[str, Any]:
    """The deploy record behind the hypothesis: the cited deploy whose identifier is the culprit, else the
    cited deploy of the service's own target kind, else the first cited deploy; {} when none is cited."""
    deploys = [
        evidence_by_id[ev_id].details
        for ev_id in hypothesis.evidence_for
        if ev_id in evidence_by_id and evidence_by_id[ev_id].kind is EvidenceKind.DEPLOY
    ]
    if not deploys:
        return {}
    culprit = (hypothesis.culprit or "").lower()
    named = [d for d in deploys if culprit and str(d.get("identifier", "")).lower() == culprit]
    own_kind = _deploy_kind_of(service)
    same_target = [d for d in deploys if own_kind and d.get("kind") == own_kind]
    return dict((named or same_target or deploys)[0])


def render_context(
    hypothesis: Hypothesis, deploy: dict[str, Any], service: Service, alarm_name: str | None, namespace: str | None
) -> dict[str, Any]:
    return {
        "service": service.model_dump(mode="json", by_alias=True),
        "hypothesis": hypothesis.model_dump(mode="json"),
        "culprit_deploy": deploy or None,
        "alarm": {"name": alarm_name, "namespace": namespace},
    }


def _propose_step(
    incident_id: str, runbook: Runbook, step: RunbookAction, context: dict[str, Any], service: Service, policy: Policy
) -> tuple[ProposedAction | None, list[str] | Skipped]:
    """One runbook action: the proposal and its policy reasons, or why it is not proposed."""
    try:
        parameters = render_parameters(step, context)
    except RenderError as exc:
        return None, Skipped(runbook.id, step.kind, f"not proposed: {exc}")
    verdict = policy.evaluate(step.kind, service)
    decision, why = verdict.decision, verdict.reasons
    if decision is PolicyDecision.DENY:
        return None, Skipped(runbook.id, step.kind, "denied by policy: " + "; ".join(why))
    digest = action_digest(step.kind, parameters)
    action = ProposedAction(
        id=action_id(incident_id, digest),
        incident_id=incident_id,
        kind=step.kind,
        parameters=parameters,
        runbook_id=runbook.id,
        risk=step.risk,
        policy=decision,
        digest=digest,
        approvers=verdict.approvers if decision is PolicyDecision.APPROVAL else None,
    )
    return action, why


def plan(
    incident_id: str,
    hypotheses: Sequence[Hypothesis],
    evidence_by_id: Mapping[str, Evidence],
    service: Service,
    alarm_name: str | None,
    runbooks: Sequence[Runbook],
    policy: Policy,
    now: datetime,
    ttl: timedelta,
    *,
    namespace: str | None = None,
) -> Plan:
    """Everything `propose` decides, with the reasons for what it left out."""
    proposed: dict[str, ProposedAction] = {}
    skipped: list[Skipped] = []
    reasons: dict[str, list[str]] = {}
    for hypothesis in planned_hypotheses(hypotheses):
        deploy = culprit_deploy(hypothesis, evidence_by_id, service)
        context = render_context(hypothesis, deploy, service, alarm_name, namespace)
        for runbook in match(list(runbooks), hypothesis, service, alarm_name, namespace, deploy or None):
            for step in runbook.actions:
                action, outcome = _propose_step(incident_id, runbook, step, context, service, policy)
                if isinstance(outcome, Skipped):
                    skipped.append(outcome)
                elif action is not None and action.id not in proposed:
                    proposed[action.id] = action
                    reasons[action.id] = outcome
    ordered = sorted(proposed.values(), key=lambda action: action.kind == ESCALATE)  # stable: escalate last
    return Plan(ordered, skipped, reasons, now + ttl)


def propose(
    incident_id: str,
    hypotheses: Sequence[Hypothesis],
    evidence_by_id: Mapping[str, Evidence],
    service: Service,
    alarm_name: str | None,
    runbooks: Sequence[Runbook],
    policy: Policy,
    now: datetime,
    ttl: timedelta,
    *,
    namespace: str | None = None,
) -> list[ProposedAction]:
    """The actions to propose for the incident's top hypotheses, in order (concrete first, escalate last)."""
    return plan(
        incident_id, hypotheses, evidence_by_id, service, alarm_name, runbooks, policy, now, ttl, namespace=namespace
    ).actions
