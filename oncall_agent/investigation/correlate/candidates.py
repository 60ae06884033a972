"""Candidate causes, read from the evidence: each deploy of the service (culprit: its identifier), each
configuration change (culprit: the CloudTrail event id), each credential rotation or revocation (a secret
value, an access key, a certificate: culprit the credential's id) and each upstream dependency in ALARM
(culprit: the service name). Also the facts every candidate is scored against (the metric shift, the log
signatures). Causes without a change of ours (load, exhaustion, expiry, infrastructure) are in `causes`.

CloudTrail also records deploys (RegisterTaskDefinition, UpdateService, UpdateAlias): a change event that a
deploy record already covers is folded into that deploy, a deploy-shaped event of this service with no deploy
record becomes a deploy candidate itself, and one of another service is not a candidate (another service's
deploy is not blamed for this service's alarm).

An upstream alarm on a saturation metric (connections, storage, memory) of a resource that is not a service of
the catalog (a database, a cache) says the resource ran out, not that a service failed: it is evidence for
resource exhaustion, not a dependency candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from oncall_agent.domain.evidence import Category, Evidence, EvidenceKind
from oncall_agent.domain.records import DeployKind
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import relations, symptoms
from oncall_agent.investigation.correlate.context import CorrelationContext


@dataclass(frozen=True)
class Facts:
    """The evidence sorted by what it says, read once per ranking."""

    ctx: CorrelationContext
    shift_at: datetime | None = None
    shifts: list[Evidence] = field(default_factory=list)
    signatures: list[Evidence] = field(default_factory=list)  # new or increased (not chronic)
    chronic: list[Evidence] = field(default_factory=list)
    deploys: list[Evidence] = field(default_factory=list)
    changes: list[Evidence] = field(default_factory=list)
    alarms: list[Evidence] = field(default_factory=list)
    tickets: list[Evidence] = field(default_factory=list)
    past: list[Evidence] = field(default_factory=list)
    gaps: list[Evidence] = field(default_factory=list)
    # The neighbourhood (see `timeline`): its resources' signal shifts, AWS's events, what the walk looked at.
    # Kept apart from `shifts` so that the alarmed service's own signals keep their meaning.
    neighbours: list[Evidence] = field(default_factory=list)
    events: list[Evidence] = field(default_factory=list)
    looked_at: list[Evidence] = field(default_factory=list)
    # New or increased errors and warnings in a dependency's own logs (`details.dependency`): what is wrong there,
    # never lines of the alarmed service.
    dependency_logs: list[Evidence] = field(default_factory=list)

    @property
    def reference(self) -> datetime:
        """When the trouble started: the alarm metric's shift, else the alarm itself."""
        return self.shift_at or as_utc(self.ctx.onset)


@dataclass(frozen=True)
class Candidate:
    category: Category
    culprit: str
    at: datetime | None
    evidence_ids: list[str]  # the evidence that names this cause, primary first
    label: str  # what a person would call it
    tokens: frozenset[str] = frozenset()  # identifiers of the changed thing, to find in log lines
    on_service: float = 0.0  # 1 = changes this service, 0.5 = one of its dependencies, 0 = unrelated


def _alarm_shift(shifts: list[Evidence]) -> datetime | None:
    """The alarm metric's shift onset; without the alarm's own metric, the earliest detected shift."""
    detected = [e for e in shifts if e.details.get("detected") and e.at is not None]
    own = [e for e in detected if e.details.get("alarm_metric")] or detected
    return min((as_utc(e.at) for e in own if e.at), default=None)


def read_facts(evidence: list[Evidence], ctx: CorrelationContext) -> Facts:
    by_kind: dict[EvidenceKind, list[Evidence]] = {kind: [] for kind in EvidenceKind}
    for item in evidence:
        by_kind[item.kind].append(item)
    logs = [e for e in by_kind[EvidenceKind.LOG_SIGNATURE] if not e.details.get("dependency")]
    # The neighbourhood's golden-signal shifts are not inputs of these rules (they read the alarm's own metric
    # and the logs' request rate); hypotheses from the neighbourhood are built from them separately.
    shifts = [e for e in by_kind[EvidenceKind.METRIC_SHIFT] if not e.details.get("neighbourhood")]
    return Facts(
        ctx=ctx,
        shift_at=_alarm_shift(shifts),
        shifts=shifts,
        signatures=[e for e in logs if not e.details.get("chronic")],
        chronic=[e for e in logs if e.details.get("chronic")],
        deploys=by_kind[EvidenceKind.DEPLOY],
        changes=by_kind[EvidenceKind.CONFIG_CHANGE],
        alarms=by_kind[EvidenceKind.RELATED_ALARM],
        tickets=by_kind[EvidenceKind.TICKET],
        past=by_kind[EvidenceKind.PAST_INCIDENT],
        gaps=by_kind[EvidenceKind.GAP],
        neighbours=[e for e in by_kind[EvidenceKind.METRIC_SHIFT] if e.details.get("neighbourhood")],
        events=by_kind[EvidenceKind.AWS_EVENT],
        looked_at=by_kind[EvidenceKind.LOOKED_AT],
        dependency_logs=[e for e in by_kind[EvidenceKind.LOG_SIGNATURE] if e.details.get("dependency")],
    )


def _is_commit(item: Evidence) -> bool:
    # A commit or a GitHub deployment names a revision, not a running change: it supports the deploy that
    # shipped it (by image tag / sha) and is never a candidate of its own.
    return item.details.get("kind") in (DeployKind.GITHUB_COMMIT.value, DeployKind.GITHUB_DEPLOYMENT.value)


def _deploy_candidate(item: Evidence, facts: Facts) -> Candidate:
    identifier = str(item.details.get("identifier") or item.entity)
    values = [identifier, *relations.flatten(item.details.get("details") or {})]
    tokens = _about_the_change(relations.identifier_tokens(values), facts.ctx) | {identifier}
    ids = [item.id]
    # A commit whose sha the deploy names (an image tag is a short sha) is the same change: cite it too.
    for commit in facts.deploys:
        sha = str(commit.details.get("identifier") or "")
        if _is_commit(commit) and len(sha) >= 7 and any(len(t) >= 7 and sha.startswith(t.lower()) for t in tokens):
            ids.append(commit.id)
    kind = item.details.get("kind", "deploy")
    return Candidate(Category.DEPLOY, identifier, item.at, ids, f"{kind} deploy {identifier}", frozenset(tokens), 1.0)


def _about_the_change(tokens: set[str], ctx: CorrelationContext) -> set[str]:
    """Identifier tokens without the service's own names (its ECS service and cluster, its function, its
    repository): a service's logs name the service all the time, which says nothing about a change of it."""
    own = relations.service_names(ctx.service) | {ctx.service.repo or ""}
    if ctx.service.ecs:
        own.add(ctx.service.ecs.cluster)
    lowered = {name.lower() for name in own if name}
    return {token for token in tokens if token.lower() not in lowered}


def _deploy_shaped(item: Evidence, ctx: CorrelationContext) -> tuple[str, bool] | None:
    """(identifier, of this service) for an UpdateService with a task definition, a Lambda UpdateAlias or a
    CodeDeploy CreateDeployment (identified by its `application/group`: the deployment id is in the response,
    which change records do not carry)."""
    params = item.details.get("parameters") or {}
    name = str(item.details.get("name") or "")
    if name == "UpdateService" and params.get("taskDefinition"):
        ecs = ctx.service.ecs
        ours = ecs is not None and str(params.get("service", "")).split("/")[-1] == ecs.service
        return str(params["taskDefinition"]), ours
    if name.startswith("UpdateAlias") and params.get("functionName") and params.get("functionVersion"):
        function = str(params["functionName"]).split(":")[-1]
        ours = ctx.service.lambda_ is not None and function == ctx.service.lambda_.function
        return f"{function}:{params['functionVersion']}", ours
    if name == "CreateDeployment" and params.get("applicationName") and params.get("deploymentGroupName"):
        group = ctx.service.codedeploy
        target = (str(params["applicationName"]), str(params["deploymentGroupName"]))
        return "/".join(target), group is not None and target == (group.application, group.group)
    return None


def _change_text(item: Evidence) -> list[str]:
    return [*map(str, item.details.get("resources") or []), *relations.flatten(item.details.get("parameters") or {})]


def _on_service(texts: list[str], ctx: CorrelationContext) -> float:
    """1 for a change naming this service, 0.5 for one naming an upstream dependency or only the distinctive
    part of this service's name (`prod/invoicing/db-app` for `invoicing-api`: resources are named after the
    system more often than after the exact service), else 0."""
    if relations.mentions(texts, relations.service_names(ctx.service)):
        return 1.0
    upstream: set[str] = set()
    for name in ctx.service.depends_on:
        entry = ctx.catalog_entry(name)
        upstream |= relations.service_names(entry) if entry else {name}
    if relations.mentions(texts, upstream | relations.name_parts(ctx.service)):
        return 0.5
    return 0.0


def _change_candidates(
    facts: Facts, record_ids: set[str], record_events: set[str], record_targets: set[str]
) -> list[Candidate]:
    shapes = {item.id: _deploy_shaped(item, facts.ctx) for item in facts.changes}
    deploy_ids = record_ids | {shape[0] for shape in shapes.values() if shape is not None}
    found = []
    for item in facts.changes:
        texts, shaped = _change_text(item), shapes[item.id]
        if item.entity in record_events:
            continue  # the event a deploy record was read from
        if shaped is not None:
            # Another service's deploy is not blamed; one a deploy record covers is that record's candidate.
            covered = relations.mentions([shaped[0]], record_ids) or shaped[0] in record_targets
            if shaped[1] and not covered:
                label = f"deploy {shaped[0]} (from CloudTrail {item.details.get('name')})"
                tokens = frozenset(_about_the_change(relations.identifier_tokens(texts), facts.ctx)) | {shaped[0]}
                found.append(Candidate(Category.DEPLOY, shaped[0], item.at, [item.id], label, tokens, 1.0))
            continue
        if relations.mentions(texts, deploy_ids):
            continue  # part of a deploy, e.g. the RegisterTaskDefinition before an UpdateService
        on_service = _on_service(texts, facts.ctx)
        if is_credential_change(item):
            culprit = credential_id(item)
            label = f"credential change {item.details.get('name')} of {culprit}"
            tokens = frozenset(_about_the_change(relations.identifier_tokens(texts), facts.ctx)) | {culprit}
            found.append(Candidate(Category.CREDENTIAL_EXPIRY, culprit, item.at, [item.id], label, tokens, on_service))
            continue
        resources = ", ".join(map(str, item.details.get("resources") or [])) or "(no resource)"
        label = f"{item.details.get('name')} on {resources}"
        tokens = frozenset(_about_the_change(relations.identifier_tokens(texts), facts.ctx))
        found.append(Candidate(Category.CONFIG_CHANGE, item.entity, item.at, [item.id], label, tokens, on_service))
    return found


def is_credential_change(item: Evidence) -> bool:
    d = item.details
    return symptoms.is_credential_event(str(d.get("source", "")), str(d.get("name", "")), d.get("parameters") or {})


def credential_id(item: Evidence) -> str:
    """The credential a rotation or revocation changed: its id in the request (secret, access key, certificate,
    database), else the event's first resource, else the event id."""
    params = item.details.get("parameters") or {}
    for key in symptoms.CREDENTIAL_ID_PARAMETERS:
        if isinstance(params.get(key), str) and params[key]:
            return str(params[key])
    resources = item.details.get("resources") or []
    return str(resources[0]) if resources else item.entity


def change_candidates(facts: Facts) -> list[Candidate]:
    """Deploys of this service, configuration changes and credential changes, oldest first."""
    service = facts.ctx.service
    own = [d for d in facts.deploys if not _is_commit(d) and relations.deploy_is_of(d.details, service)]
    every_deploy = [d for d in facts.deploys if not _is_commit(d)]
    record_ids = {str(d.details.get("identifier")) for d in every_deploy if d.details.get("identifier")}
    record_events = {str(d.details.get("source_event_id")) for d in every_deploy if d.details.get("source_event_id")}
    found = [_deploy_candidate(item, facts) for item in own]
    record_targets = {str(d.details.get("target")) for d in every_deploy if d.details.get("target")}
    found += _change_candidates(facts, record_ids, record_events, record_targets)
    found.sort(key=lambda c: (as_utc(c.at) if c.at else facts.reference, c.culprit))
    # Two sources may report the same deploy (an ECS record and a GitHub deployment): one candidate, both cited.
    unique: dict[tuple[Category, str], Candidate] = {}
    for cand in found:
        key = (cand.category, cand.culprit.lower())
        if key in unique:
            kept = unique[key]
            kept.evidence_ids.extend(i for i in cand.evidence_ids if i not in kept.evidence_ids)
        else:
            unique[key] = cand
    return list(unique.values())


CHRONIC_ALARM_MINUTES = 360.0
"""An alarm that has been on for longer than this before the onset is chronic: it did not start this."""


def _chronic(alarm: Evidence) -> bool:
    return float(alarm.details.get("minutes_before_onset") or 0.0) > CHRONIC_ALARM_MINUTES


def alarm_metric_class(item: Evidence) -> str | None:
    metric = item.details.get("metric") or {}
    return symptoms.metric_class(str(metric.get("namespace", "")), str(metric.get("name", "")))


def resource_strain(item: Evidence, ctx: CorrelationContext) -> bool:
    """An upstream alarm on a saturation metric of something that is not a catalog service (a database, a
    cache, a NAT gateway): that resource is running out (see the module docstring)."""
    service = item.details.get("service")
    return alarm_metric_class(item) == symptoms.SATURATION and (not service or ctx.catalog_entry(str(service)) is None)


def dependency_candidates(facts: Facts) -> list[Candidate]:
    """Upstream dependencies with at least one alarm in ALARM, by name."""
    by_service: dict[str, list[Evidence]] = {}
    for item in facts.alarms:
        if item.details.get("relation") == relations.UPSTREAM and item.details.get("service"):
            if resource_strain(item, facts.ctx):
                continue
            by_service.setdefault(str(item.details["service"]), []).append(item)
    found = []
    for name, alarms in sorted(by_service.items()):
        # Recent alarms first, oldest first among them; chronic ones after them.
        alarms.sort(key=lambda e: (_chronic(e), as_utc(e.at) if e.at else facts.reference, e.entity))
        first = alarms[0]
        ids = [e.id for e in alarms]
        found.append(Candidate(Category.DEPENDENCY, name, first.at, ids, f"upstream dependency {name}", frozenset()))
    return found
