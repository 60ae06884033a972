"""A dependency's own logs turn "where" into "why": an alarmed dependency, or one our errors name, is where the
trouble is; the new errors in its own log groups (`Facts.dependency_logs`, read by the `dependency_logs` source)
can say why it fails. An SRE who finds "x509: certificate has expired" in the service discovery cluster's log does
not report "service discovery is failing" but "service discovery's certificate expired".

Classified with the symptom taxonomy: when the dependency's new or increased errors and warnings state a class of
the `credential` family that says a credential expired or was rejected (an expired or untrusted certificate, a
failed handshake, a token past its lifetime; not an authorization denial, which is the dependency's own
configuration), and they began no later than our alarm metric moved (with the usual slack: lines that start after
ours may be the consequence), the dependency candidate becomes that class's cause located at the dependency:
category `credential_expiry`, culprit the dependency. It keeps the evidence that found the dependency (its alarm,
our errors naming it) and gains `dependency_diagnosed` (the class's strength, 1 for an expired certificate).

A dependency that runs out of something stays a `dependency`: SCENARIOS.md counts a dependency's own exhaustion
as the dependency failing for its own reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from oncall_agent.domain.evidence import Category, Evidence
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import symptoms
from oncall_agent.investigation.correlate.candidates import Facts
from oncall_agent.investigation.correlate.cause_common import texts
from oncall_agent.investigation.correlate.features import SLACK_MINUTES, Scored
from oncall_agent.investigation.correlate.taxonomy import SymptomClass

DIAGNOSED_WEIGHT = 0.5
"""A cause stated by the dependency itself adds a little to the evidence that located it."""
MIN_STRENGTH = 0.8
"""Firm statements only: a generic TLS error alone (weaker classes) does not say a credential failed."""


@dataclass(frozen=True)
class Diagnosis:
    symptom: SymptomClass
    evidence: list[Evidence]  # the dependency's own signatures stating it, the firmest first


def diagnosis(dependency: str, facts: Facts) -> Diagnosis | None:
    """What the dependency's own new errors say failed there, if it is a credential (module docstring)."""
    latest = as_utc(facts.reference) + timedelta(minutes=SLACK_MINUTES)
    found: list[tuple[SymptomClass, Evidence]] = []
    for item in facts.dependency_logs:
        if item.details.get("dependency") != dependency or item.at is None or as_utc(item.at) > latest:
            continue
        stated = symptoms.credential_symptom(texts(item))
        if stated is not None and stated.kind != symptoms.DENIED and stated.strength >= MIN_STRENGTH:
            found.append((stated, item))
    if not found:
        return None
    # The firmest statement first (it is the one quoted), then by when it began.
    found.sort(key=lambda pair: (-pair[0].strength, as_utc(pair[1].at or facts.reference), pair[1].id))
    return Diagnosis(found[0][0], [item for _, item in found])


def located(scored: Scored, facts: Facts) -> Scored:
    """The dependency candidate as the cause its own logs state, or unchanged (module docstring)."""
    cand = scored.candidate
    if cand.category is not Category.DEPENDENCY:
        return scored
    found = diagnosis(cand.culprit, facts)
    if found is None:
        return scored
    what = found.symptom.name.replace("_", " ")
    label = f"a {what} at {cand.culprit}"
    scored.candidate = replace(cand, category=Category.CREDENTIAL_EXPIRY, label=label)
    scored.features["dependency_diagnosed"] = found.symptom.strength
    scored.notes["dependency_diagnosed"] = f"{cand.culprit}'s own logs say {what} ({_quote(found.evidence[0])})"
    scored.evidence_for = [*(e.id for e in found.evidence), *scored.evidence_for]
    return scored


def _quote(item: Evidence) -> str:
    return str(item.details.get("template", ""))[:120]
