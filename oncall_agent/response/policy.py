"""The Cedar response policy (`runbooks/*.cedar`): deny, auto, or needs approval, per action kind and service.

Request shape (see runbooks/policy.cedar): principal `OncallAgent::Agent::"oncall-agent"`, action
`OncallAgent::Action::"<kind>"`, resource `OncallAgent::Target::"<service>"` with attributes environment,
service and tags, context `{approved: bool}`. Each decision is one `is_authorized_batch` call with
`approved` false and true: allowed at false -> AUTO; allowed only at true -> APPROVAL; otherwise DENY.
Anything other than Allow (Deny, NoDecision, evaluation errors) counts as not allowed.

The environment is the service's `environment` (or `env`) tag, lower-cased, `unknown` when absent: the shipped
policy treats any environment it does not recognise as non-production as needing approval.

Approvers: an APPROVAL decision is approved by a group: the service's `team` tag, or `oncall` when it has
none (`approvers_for`). The planner stores it with the action; `ApprovalService` refuses a decision by anyone
outside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cedarpy

from oncall_agent.domain.action import DEFAULT_APPROVERS, PolicyDecision
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.errors import ConfigError

PRINCIPAL = 'OncallAgent::Agent::"oncall-agent"'


def _quote(value: str) -> str:
    return json.dumps(value)  # a Cedar string literal: JSON escaping is a subset Cedar accepts


def environment_of(service: Service) -> str:
    """The service's environment from its tags (`environment`, else `env`), lower-cased; `unknown` if absent."""
    value = service.tags.get("environment") or service.tags.get("env") or "unknown"
    return value.strip().lower() or "unknown"


def approvers_for(service: Service) -> str:
    """The group that may approve actions on `service`: its `team` tag, else `oncall`."""
    return service.tags.get("team") or DEFAULT_APPROVERS


@dataclass(frozen=True)
class Decision:
    decision: PolicyDecision
    reasons: list[str]
    approvers: str | None = None


class PolicyEngine:
    """Pre-parsed Cedar policies with their `@id` annotations (the reasons a decision cites)."""

    def __init__(self, text: str, source: str = "<policy>") -> None:
        try:
            self._policies = cedarpy.PolicySet.from_str(text)
            parsed = json.loads(cedarpy.policies_to_json_str(text))
        except ValueError as exc:
            raise ConfigError(f"{source}: policy does not parse: {exc}") from exc
        self._ids = _annotation_ids(parsed, source)
        if not self._ids:
            raise ConfigError(f"{source}: no policies: everything would be denied")

    @classmethod
    def from_folder(cls, folder: str | Path) -> PolicyEngine:
        """All `*.cedar` files in `folder`, sorted by name, as one policy set."""
        root = Path(folder)
        files = sorted(root.glob("*.cedar")) if root.is_dir() else []
        if not files:
            raise ConfigError(f"{root}: no *.cedar policy files")
        text = "\n".join(path.read_text(encoding="utf-8") for path in files)
        return cls(text, source=", ".join(str(path) for path in files))

    def decide(self, kind: str, service: Service) -> tuple[PolicyDecision, list[str]]:
        """The decision for action `kind` on `service`, and the reasons (policy @ids, or why it is denied)."""
        results = cedarpy.is_authorized_batch(
            [self._request(kind, service, approved) for approved in (False, True)],
            self._policies,
            [_target(service)],
        )
        unapproved, approved = results
        if unapproved.allowed:
            return PolicyDecision.AUTO, self._reasons(unapproved)
        if approved.allowed:
            return PolicyDecision.APPROVAL, self._reasons(approved)
        reasons = self._reasons(approved) + self._reasons(unapproved)
        if not reasons:
            reasons = [f"no policy permits {kind} on {service.name} (environment {environment_of(service)})"]
        return PolicyDecision.DENY, list(dict.fromkeys(reasons))

    def evaluate(self, kind: str, service: Service) -> Decision:
        """`decide` plus the approver group for APPROVAL decisions."""
        decision, reasons = self.decide(kind, service)
        group = approvers_for(service) if decision is PolicyDecision.APPROVAL else None
        return Decision(decision, reasons, group)

    @staticmethod
    def _request(kind: str, service: Service, approved: bool) -> dict[str, Any]:
        return {
            "principal": PRINCIPAL,
            "action": f"OncallAgent::Action::{_quote(kind)}",
            "resource": f"OncallAgent::Target::{_quote(service.name)}",
            "context": {"approved": approved},
        }

    def _reasons(self, result: Any) -> list[str]:
        diagnostics = result.diagnostics
        reasons = [self._ids.get(policy_id, policy_id) for policy_id in diagnostics.reasons]
        reasons += [f"policy error: {error}" for error in diagnostics.errors]
        return reasons


def _target(service: Service) -> dict[str, Any]:
    return {
        "uid": {"type": "OncallAgent::Target", "id": service.name},
        "attrs": {"environment": environment_of(service), "service": service.name, "tags": dict(service.tags)},
        "parents": [],
    }


def _annotation_ids(parsed: dict[str, Any], source: str) -> dict[str, str]:
    """Positional policy id (`policy0`) -> its `@id` annotation; every policy must carry a unique one."""
    ids: dict[str, str] = {}
    for position, policy in (parsed.get("staticPolicies") or {}).items():
        annotation = (policy.get("annotations") or {}).get("id")
        if not annotation:
            raise ConfigError(f"{source}: policy {position} ({policy.get('effect')}) has no @id annotation")
        if annotation in ids.values():
            raise ConfigError(f"{source}: @id {annotation!r} is used by more than one policy")
        ids[position] = annotation
    if parsed.get("templates"):
        raise ConfigError(f"{source}: policy templates are not supported")
    return ids
