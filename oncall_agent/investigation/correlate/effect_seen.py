"""A change's own effect, reported by AWS and naming what the change touched.

Some changes have a signature effect that AWS itself reports, on the very resource the change touched: an ECR
lifecycle policy or a deleted image makes new tasks stop with "CannotPullContainerError ... <repository>:<tag>
not found"; a rotated or deleted secret makes them stop with "ResourceInitializationError ... <secret>". An
on-call engineer who reads such a stopped task and finds a change to that repository or secret needs nothing
more: the timing can be long (the effect waits for the next task replacement), so proximity says little.

Feature for change candidates (weight in `rank`): `effect_named` (1: a stopped-task or service event of the
class the change's kind produces - `image` for changes that can stop an image pull, `secrets` for credential
changes - names a resource the change touched).
"""

from __future__ import annotations

from typing import Any

from oncall_agent.domain.evidence import Evidence
from oncall_agent.investigation.correlate import relations
from oncall_agent.investigation.correlate.features import Scored
from oncall_agent.investigation.correlate.timeline import Anomaly

# The effect (change_effects.yaml) a change must be able to produce for each AWS event class to be its doing.
EFFECT_OF_EVENT_CLASS = {"image": "image", "secrets": "auth"}
_NAME_KEYS = ("name", "id", "arn")  # parameters that name a resource (repositoryName, secretId, SecretArn...)
MIN_NAME = 3  # shorter values ("7", "v1") are not names worth matching in free text


def touched(details: dict[str, Any]) -> set[str]:
    """The names of what a change touched: its resources and the parameters that name a resource."""
    names = {str(r) for r in details.get("resources") or []}
    raw = details.get("parameters")
    params: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for key, value in params.items():
        if isinstance(value, str) and str(key).lower().endswith(_NAME_KEYS):
            names.add(value)
    names |= {name.rsplit("/", 1)[-1] for name in names if name.startswith("arn:")}
    return {name for name in names if len(name) >= MIN_NAME}


def _event_text(item: Evidence) -> str:
    return " ".join(str(item.details.get(key) or "") for key in ("stopped_reason", "message"))


def effect_named_features(
    scored: Scored,
    details: dict[str, Any],
    effects: frozenset[str] | None,
    timeline: list[Anomaly],
    events: list[Evidence],
) -> None:
    """`effect_named` for one change (see the module docstring); `effects` what its kind can do (None: unknown)."""
    scored.features["effect_named"] = 0.0
    if not effects:
        return
    names = touched(details)
    by_id = {e.id: e for e in events}
    for anomaly in timeline:
        effect = EFFECT_OF_EVENT_CLASS.get(anomaly.what) if anomaly.event else None
        item = by_id.get(anomaly.evidence_id)
        if effect is None or effect not in effects or item is None:
            continue
        named = relations.mentions([_event_text(item)], names, right_edge=False)
        if named:
            scored.features["effect_named"] = 1.0
            scored.notes["effect_named"] = f"AWS reports its effect ({anomaly.what}) on {named[0]}"
            scored.evidence_for.append(item.id)
            return
