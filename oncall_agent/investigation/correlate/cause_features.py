"""Explainable features of the causes that are not a change of ours (see `causes`), and the counter-evidence
these causes bring against change candidates. All in [0, 1]; `rank` weighs them.

traffic_surge:
- `load_up`: how far the load rose, (ratio - 1) / 0.8 capped at 1 (1.8 times the baseline or more is 1); 0 when
  the rise began more than 5 minutes after the alarm metric moved (then it is retries, not the cause).
- `load_leads`: 1 when the load rose (or a load alarm started) before the alarm metric moved, 2 minutes slack.
- `load_alarm`: 1 when a load alarm of the service (request count, invocations) is in ALARM.
- `strained`: 1 when something also ran short (saturation alarms, pool waits): the extra load is biting.
resource_exhaustion (per resource):
- `saturated`: 1 for a saturation alarm that started before the alarm metric moved (5 minutes of grace: an alarm
  trails its metric by its evaluation periods), 0.6 between then and our alarm, 0.3 after; 0 for alarms older
  than 6 hours (chronic). The alarm's own saturation metric counts like an alarm when it ramped, half when it
  stepped: alone it restates the alarm (CPU is high) without saying why. A busy metric (CPU, disk queue) counts
  0.7 of that: busy is not out of something.
- `exhaustion_logs`: 1 for new lines that say it ran out (OOM kill, too many connections, disk full), 0.5 for a
  pool wait or throttling; 60% of that when the lines were there before and only grew.
- `strain_first`: 1 when the first sign of it came before the alarm metric moved.
- `gradual`: 1 when it built up over 10 minutes or more (a leak, a filling disk).
- counter-evidence: `load_up` (more traffic explains it better), `chronic_strain` (only old alarms).
credential_expiry without a change:
- `credential_errors`: strength of the new credential failures: expired 1, rejected 0.8, denied 0.4 (x0.6 when
  they only grew).
- `abrupt`: 1 when the failures are new and the alarm metric stepped (rose within 5 minutes): an expiry is an
  instant, not a ramp.
- `names_credential`: 1 when a certificate, key or secret is named (by an expiry alarm, or by expired or rejected
  credential failures: an AccessDenied names a principal or a resource, not a credential).
- `certificate_alarm`: 1 when a certificate expiry alarm (DaysToExpiry) is in ALARM.
infrastructure:
- `infra_alarm`: health alarms of our resources: specificity (1 when it names a zone or a host or is an AWS-side
  check, 0.5 for unhealthy targets in general) times timing (as `saturated`).
- `zonal_errors`: 1 when the new errors name the one zone (or host) the cause is in.
- counter-evidence: `load_up`.
For every cause here: `change_explains` (the best confidence of a change candidate: a deploy, a config change or
a rotation that explains the timing) and `dependency_explains` (1 when an upstream dependency alarmed first),
both weighed against it; `past_incident_match` as for changes.

Credential rotations are change candidates with the change features plus `credential_errors_after` (strength of
the first credential failure after it, fading over an hour: cached credentials fail when they are next used) and
against it `no_credential_errors`. Every change candidate gets two counter-features from here: `load_surge`
(the load rose at least 1.4 times before the alarm metric moved), `infra_alarm_first` (a zone or host health
alarm started before the change) and `autoscaling` (the change was made by Application Auto Scaling or EC2 Auto
Scaling: a reaction to load, never its cause); deploys and config changes also `expired_credentials` (new errors
say a credential expired: a deploy or a setting does not make a certificate or a secret expire). An upstream
dependency gets `infra_alarm_first` too (a zone or host health alarm of ours came no later than its alarm: the
AWS-side failure hit it as well).
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from oncall_agent.domain.evidence import Category, Evidence
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import symptoms
from oncall_agent.investigation.correlate.candidates import CHRONIC_ALARM_MINUTES, Candidate, Facts
from oncall_agent.investigation.correlate.cause_common import own_shift
from oncall_agent.investigation.correlate.causes import Symptoms
from oncall_agent.investigation.correlate.exhaustion import active_alarms
from oncall_agent.investigation.correlate.features import (
    SLACK_MINUTES,
    Scored,
    change_features,
    past_features,
    span,
)

LATE_LOAD_MINUTES = 5.0
EVALUATION_MINUTES = 5.0
OWN_SHIFT_SHARE = 0.5
BUSY_SHARE = 0.7
GRADUAL_MINUTES = 10.0
ABRUPT_MINUTES = 5.0
CREDENTIAL_FADE_MINUTES = 60.0


def _minutes(later: datetime, earlier: datetime) -> float:
    return (as_utc(later) - as_utc(earlier)).total_seconds() / 60


def timing(item: Evidence, facts: Facts) -> float:
    """1 when `item` (an alarm, or the alarm metric's own shift) started before the alarm metric moved, with
    EVALUATION_MINUTES of grace (a health or saturation alarm needs a few periods above its threshold before it
    goes to ALARM, so it trails the first symptoms), 0.6 between then and the alarm, 0.3 after the alarm; 0 when
    it started more than 6 hours before the alarm (chronic)."""
    if item.details.get("alarm_metric"):
        return 1.0
    lead = facts.ctx.minutes_before_onset(item.at) if item.at else 0.0
    if lead > CHRONIC_ALARM_MINUTES:
        return 0.0
    if lead >= facts.ctx.minutes_before_onset(facts.reference) - EVALUATION_MINUTES:
        return 1.0
    return 0.6 if lead >= 0 else 0.3


def _metric_name(item: Evidence) -> str:
    """The metric of a related alarm or of a metric shift."""
    metric = item.details.get("metric")
    return str(metric.get("name", "")) if isinstance(metric, dict) else str(metric or "")


def _rise(item: Evidence | None) -> float | None:
    return float(item.details["rise_minutes"]) if item is not None and "rise_minutes" in item.details else None


# --- load ----------------------------------------------------------------------------------------------------


def load_up(found: Symptoms, facts: Facts) -> float:
    load = found.load
    if load.ratio is None or load.onset is None or _minutes(load.onset, facts.reference) > LATE_LOAD_MINUTES:
        return 0.0
    return round(min(1.0, max(0.0, (load.ratio - 1.0) / 0.8)), 3)


def load_leads(found: Symptoms, facts: Facts) -> float:
    starts = [t for t in (found.load.onset, found.load.alarm_since) if t is not None]
    if found.load.own_alarm and own_shift(facts) is not None:
        return 1.0
    return 1.0 if starts and _minutes(min(starts), facts.reference) <= SLACK_MINUTES else 0.0


def traffic_features(cand: Candidate, facts: Facts, found: Symptoms) -> Scored:
    scored = Scored(cand, {}, evidence_for=list(cand.evidence_ids))
    load = found.load
    scored.features["load_up"] = load_up(found, facts)
    scored.features["load_leads"] = load_leads(found, facts)
    scored.features["load_alarm"] = 1.0 if load.alarm_ids or load.own_alarm else 0.0
    if load.ratio is not None and load.ratio >= 1.0 and load.onset is not None:
        scored.notes["load_up"] = f"the load rose {load.ratio:.1f} times from {load.onset:%H:%M}Z"
    if scored.features["load_leads"]:
        scored.notes["load_leads"] = "before the alarm metric moved"
    strained = [e.id for strain in found.strains.values() for e in [*strain.alarms, *strain.logs]]
    scored.features["strained"] = 1.0 if strained else 0.0
    if strained:
        scored.notes["strained"] = "capacity is running short"
        scored.evidence_for += strained
    past_features(cand, facts, scored)
    return scored


# --- exhaustion --------------------------------------------------------------------------------------------


def exhaustion_features(cand: Candidate, facts: Facts, found: Symptoms) -> Scored:
    strain = found.strains[cand.culprit]
    scored = Scored(cand, {}, evidence_for=list(cand.evidence_ids))
    rise = _rise(strain.own_shift)
    gradual_shift = rise is not None and rise >= GRADUAL_MINUTES
    # The alarm's own saturation metric alone is the symptom, not its explanation: half, unless it ramped.
    scores = [
        timing(e, facts)
        * (OWN_SHIFT_SHARE if e is strain.own_shift and not gradual_shift else 1.0)
        * (BUSY_SHARE if _metric_name(e) in symptoms.BUSY_METRICS else 1.0)
        for e in strain.alarms
    ]
    scored.features["saturated"] = max(scores, default=0.0)
    if strain.alarms:
        named = ", ".join(sorted({str(e.details.get("name") or e.details.get("metric")) for e in strain.alarms}))
        scored.notes["saturated"] = f"saturation alarms or shifts on it: {named}"
    scored.features["chronic_strain"] = 1.0 if strain.alarms and not strain.logs and max(scores) == 0.0 else 0.0
    scored.features["exhaustion_logs"] = round(strain.log_strength, 3)
    if strain.logs:
        scored.notes["exhaustion_logs"] = f"new log lines say it ran out ({len(strain.logs)} signatures)"
    first = cand.at
    scored.features["strain_first"] = 1.0 if first and _minutes(first, facts.reference) <= SLACK_MINUTES else 0.0
    alarm_times = [as_utc(e.at) for e in active_alarms(strain) if e.at and not e.details.get("alarm_metric")]
    log_times = [as_utc(e.at) for e in strain.logs if e.at]
    built_up = bool(alarm_times and log_times and _minutes(min(log_times), min(alarm_times)) >= GRADUAL_MINUTES)
    scored.features["gradual"] = 1.0 if gradual_shift or built_up else 0.0
    if scored.features["gradual"]:
        scored.notes["gradual"] = "it built up gradually"
    scored.features["load_up"] = load_up(found, facts)
    if scored.features["load_up"] >= 0.5:
        scored.notes["load_surge"] = "but the load rose too"
        scored.evidence_against += found.load.shift_ids
    past_features(cand, facts, scored)
    return scored


# --- credentials ---------------------------------------------------------------------------------------------


def expiry_features(cand: Candidate, facts: Facts, found: Symptoms) -> Scored:
    scored = Scored(cand, {}, evidence_for=list(cand.evidence_ids))
    strongest = max(found.credentials, key=lambda f: f.strength, default=None)
    scored.features["credential_errors"] = strongest.strength if strongest else 0.0
    if strongest is not None:
        scored.notes["credential_errors"] = f"new log lines say a credential was {strongest.kind}"
    rise = _rise(own_shift(facts))
    new = any(f.signature.details.get("new") for f in found.credentials)
    scored.features["abrupt"] = 1.0 if new and (rise is None or rise <= ABRUPT_MINUTES) else 0.0
    if scored.features["abrupt"]:
        scored.notes["abrupt"] = "the failures started abruptly"
    scored.features["names_credential"] = 1.0 if cand.culprit else 0.0
    scored.features["certificate_alarm"] = 1.0 if found.certificate_alarms else 0.0
    if found.certificate_alarms:
        scored.notes["certificate_alarm"] = f"certificate expiry alarm {found.certificate_alarms[0].entity} is on"
    past_features(cand, facts, scored)
    return scored


def credential_change_features(
    cand: Candidate, facts: Facts, found: Symptoms, others: list[Candidate], upstream: float
) -> Scored:
    """A rotation or revocation: the change features, plus whether credentials failed after it."""
    scored = change_features(cand, facts, others, upstream)
    at = cand.at or facts.reference
    # (delay in minutes, failure) for the credential failures that started after the change (2 minutes slack).
    after = sorted(
        (max(0.0, _minutes(f.signature.at, at)), f)
        for f in found.credentials
        if f.signature.at and _minutes(f.signature.at, at) >= -SLACK_MINUTES
    )
    best = max((f.strength * math.exp(-delay / CREDENTIAL_FADE_MINUTES) for delay, f in after), default=0.0)
    scored.evidence_for += [f.signature.id for _, f in after if f.signature.id not in scored.evidence_for]
    scored.features["credential_errors_after"] = round(best, 3)
    scored.features["no_credential_errors"] = 0.0 if after else 1.0
    if after:
        delay, first = after[0]
        scored.notes["credential_errors_after"] = f"credential failures ({first.kind}) began {span(delay)} after it"
    return scored


# --- infrastructure ------------------------------------------------------------------------------------------


def infrastructure_features(cand: Candidate, facts: Facts, found: Symptoms) -> Scored:
    scored = Scored(cand, {}, evidence_for=list(cand.evidence_ids))
    best, best_alarm = 0.0, None
    for alarm in found.infra_alarms:
        score = alarm.specificity * timing(alarm.alarm, facts)
        if score > best:
            best, best_alarm = score, alarm
    scored.features["infra_alarm"] = round(best, 3)
    if best_alarm is not None:
        scored.notes["infra_alarm"] = f"health alarm {best_alarm.alarm.entity} is on"
    zonal = found.zone_errors.get(cand.culprit, []) or found.host_errors.get(cand.culprit, [])
    scored.features["zonal_errors"] = 1.0 if cand.culprit and zonal else 0.0
    if scored.features["zonal_errors"]:
        scored.notes["zonal_errors"] = f"the new errors name {cand.culprit} only"
    scored.features["load_up"] = load_up(found, facts)
    past_features(cand, facts, scored)
    return scored


# --- counter-evidence --------------------------------------------------------------------------------------


# Who acts for Auto Scaling in CloudTrail: its service-linked roles, or the service principal itself
# (`invokedBy`/`userName` "application-autoscaling.amazonaws.com", "autoscaling.amazonaws.com", or the bare name).
AUTOSCALING_ACTORS = re.compile(
    r"AWSServiceRoleForApplicationAutoScaling|AWSServiceRoleForAutoScaling"
    r"|^(?:application-)?autoscaling(?:\.amazonaws\.com)?$",
    re.I,
)


def change_counters(scored: Scored, facts: Facts, found: Symptoms, item: Evidence | None = None) -> None:
    """What causes without a change say against a change candidate (see the module docstring); `item` is the
    candidate's primary evidence (its CloudTrail event or deploy record)."""
    actor = str((item.details.get("actor") if item else None) or "")
    scored.features["autoscaling"] = 1.0 if AUTOSCALING_ACTORS.search(actor) else 0.0
    if scored.features["autoscaling"]:
        scored.notes["autoscaling"] = "but it was made by autoscaling, in reaction to the load"
    surge = load_up(found, facts) >= 0.5 and load_leads(found, facts) >= 1.0
    scored.features["load_surge"] = 1.0 if surge else 0.0
    if surge:
        scored.notes["load_surge"] = "but the load rose when the trouble began"
        scored.evidence_against += found.load.shift_ids + found.load.alarm_ids
    expired = [f.signature.id for f in found.credentials if f.kind == symptoms.EXPIRED]
    if scored.candidate.category is not Category.CREDENTIAL_EXPIRY:
        scored.features["expired_credentials"] = 1.0 if expired else 0.0
        if expired:
            scored.notes["expired_credentials"] = "but the new errors say a credential expired"
            scored.evidence_against += expired
    at = scored.candidate.at
    first = [
        a.alarm
        for a in found.infra_alarms
        if a.specificity >= 1.0
        and at
        and a.alarm.at
        and _minutes(a.alarm.at, at) <= SLACK_MINUTES
        and timing(a.alarm, facts)
    ]
    scored.features["infra_alarm_first"] = 1.0 if first else 0.0
    if first:
        scored.notes["infra_alarm_first"] = f"but health alarm {first[0].entity} was on before it"
        scored.evidence_against += [e.id for e in first]


def dependency_counters(scored: Scored, facts: Facts, found: Symptoms) -> None:
    """`infra_alarm_first` for an upstream dependency: a zone or host health alarm of ours started no later than
    its first alarm - an AWS-side failure hits the dependency too; it is a fellow victim, not the cause."""
    first = scored.candidate.at
    earlier = [
        a.alarm
        for a in found.infra_alarms
        if a.specificity >= 1.0 and first and a.alarm.at and _minutes(a.alarm.at, first) <= SLACK_MINUTES
    ]
    scored.features["infra_alarm_first"] = 1.0 if earlier else 0.0
    if earlier:
        scored.notes["infra_alarm_first"] = f"but health alarm {earlier[0].entity} of ours was on first"
        scored.evidence_against += [e.id for e in earlier]


def explained(scored: Scored, change_best: tuple[float, str] | None, dependency_first: float) -> None:
    """The counter-evidence a cause without a change gets from the other candidates."""
    confidence, label = change_best or (0.0, "")
    scored.features["change_explains"] = round(confidence, 3)
    if confidence >= 0.3:
        scored.notes["change_explains"] = f"but {label} explains the timing"
    scored.features["dependency_explains"] = 1.0 if dependency_first >= 0.6 else 0.0
    if dependency_first >= 0.6:
        scored.notes["dependency_explains"] = "but an upstream dependency alarmed first"
