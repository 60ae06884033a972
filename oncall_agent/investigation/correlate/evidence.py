"""Builders: what the sources return (domain records) -> Evidence with stable, content-addressed ids.

`metric_evidence`, `log_evidence`, `gap` and `cut` live in `signals` and are re-exported here, so callers need
only this module.

Every builder is pure and deterministic: the same records and context give the same evidence (and ids), so
re-gathering after a crash or a replay does not duplicate anything. Details carry what `rank` needs as plain
JSON; deploy details are exactly `DeployRecord.model_dump(mode="json")` plus `minutes_before_onset` (the
response planner reads them back as a deploy record).
"""

from __future__ import annotations

from oncall_agent.domain.evidence import Evidence, EvidenceKind
from oncall_agent.domain.incident import Incident
from oncall_agent.domain.records import AlarmSnapshot, ChangeRecord, DeployRecord, TicketRecord
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import relations
from oncall_agent.investigation.correlate.context import CorrelationContext, iso
from oncall_agent.investigation.correlate.signals import cut, gap, log_evidence, metric_evidence

__all__ = [
    "change_evidence",
    "cut",
    "deploy_evidence",
    "gap",
    "log_evidence",
    "metric_evidence",
    "past_incident_evidence",
    "related_alarm_evidence",
    "ticket_evidence",
]

# --- deploys and changes -------------------------------------------------------------------------------------


def deploy_evidence(records: list[DeployRecord], ctx: CorrelationContext) -> list[Evidence]:
    """One deploy item per record (deploys and commits), oldest first; details = the record + timing."""
    items = []
    unique = {record.model_dump_json(): record for record in records}.values()
    for record in sorted(unique, key=lambda r: (as_utc(r.at), r.identifier)):
        minutes = ctx.minutes_before_onset(record.at)
        was = f" (was {record.previous})" if record.previous else ""
        who = f" by {record.actor}" if record.actor else ""
        summary = (
            f"{record.kind.value} deploy {record.identifier}{was} on {record.target}{who}, "
            f"{minutes:g} min before the alarm"
        )
        details = {**record.model_dump(mode="json"), "minutes_before_onset": minutes}
        items.append(
            Evidence(
                kind=EvidenceKind.DEPLOY,
                source="deploys",
                at=record.at,
                entity=record.identifier,
                summary=summary,
                details=details,
                link=record.link,
            )
        )
    return items


def change_evidence(records: list[ChangeRecord], ctx: CorrelationContext) -> list[Evidence]:
    """One config_change item per write (read-only events are dropped), oldest first."""
    items = []
    for record in sorted({r.event_id: r for r in records if not r.read_only}.values(), key=lambda r: as_utc(r.at)):
        minutes = ctx.minutes_before_onset(record.at)
        on = ", ".join(record.resources[:3]) or "(no resource)"
        who = f" by {record.actor}" if record.actor else ""
        summary = f"{record.name} ({record.source}) on {on}{who}, {minutes:g} min before the alarm"
        details = {**record.model_dump(mode="json"), "minutes_before_onset": minutes}
        items.append(
            Evidence(
                kind=EvidenceKind.CONFIG_CHANGE,
                source="changes",
                at=record.at,
                entity=record.event_id,
                summary=summary[:500],
                details=details,
            )
        )
    return items


# --- alarms, tickets, memory ---------------------------------------------------------------------------------


def related_alarm_evidence(snapshots: list[AlarmSnapshot], ctx: CorrelationContext) -> list[Evidence]:
    """Alarms in ALARM on this service, its upstream dependencies or its dependents, and alarms of no service
    on this service's resources (relation `resource`), not the incident's own alarm, with `since` relative to
    the onset: an upstream alarm that started first points at it."""
    items = []
    for snapshot in sorted(snapshots, key=lambda s: (as_utc(s.since), s.name)):
        if snapshot.state.value != "ALARM" or snapshot.name == ctx.alarm_name:
            continue
        service = relations.alarm_service(snapshot, ctx)
        relation = relations.relation(ctx, service)
        if relation == relations.OTHER and service is None and relations.on_our_resources(snapshot, ctx):
            relation = relations.RESOURCE
        if relation == relations.OTHER:
            continue
        minutes = ctx.minutes_before_onset(snapshot.since)
        details = {
            "name": snapshot.name,
            "arn": snapshot.arn,
            "state": snapshot.state.value,
            "since": iso(snapshot.since),
            "service": service,
            "relation": relation,
            "minutes_before_onset": minutes,
            "metric": snapshot.metric.model_dump(mode="json") if snapshot.metric else None,
            "tags": snapshot.tags,
        }
        order = "before" if minutes >= 0 else "after"
        about = service or "our resources"
        summary = f"{relation} alarm {snapshot.name} ({about}) in ALARM since {abs(minutes):g} min {order} the alarm"
        items.append(
            Evidence(
                kind=EvidenceKind.RELATED_ALARM,
                source="alarms",
                at=snapshot.since,
                entity=snapshot.name,
                summary=summary,
                details=details,
            )
        )
    return items


def ticket_relation(ci: str | None, ctx: CorrelationContext) -> str:
    """self | upstream | downstream | other: whose configuration item (or repository) a ticket is on."""
    if not ci:
        return relations.OTHER
    for entry in ctx.catalog:
        if ci in {entry.servicenow_ci, entry.repo, entry.name}:
            return relations.relation(ctx, entry.name)
    return relations.relation(ctx, ci)


def ticket_evidence(records: list[TicketRecord], ctx: CorrelationContext) -> list[Evidence]:
    """Change requests, incidents and issues, with whose CI they are on and whether they were active at onset."""
    items = []
    for record in sorted(records, key=lambda r: (r.system, r.kind, r.number)):
        at = record.start or record.opened
        onset = as_utc(ctx.onset)
        active = bool(
            record.start and as_utc(record.start) <= onset and (not record.end or onset <= as_utc(record.end))
        )
        details = {
            **record.model_dump(mode="json"),
            "relation": ticket_relation(record.ci, ctx),
            "active_at_onset": active,
            "minutes_before_onset": ctx.minutes_before_onset(at) if at else None,
        }
        summary = f"{record.system} {record.kind} {record.number} on {record.ci or '?'}: {record.title[:200]}"
        entity = f"{record.system}:{record.number}"
        items.append(
            Evidence(
                kind=EvidenceKind.TICKET,
                source="tickets",
                at=at,
                entity=entity,
                summary=summary,
                details=details,
                link=record.link,
            )
        )
    return items


def past_incident_evidence(incidents: list[Incident], ctx: CorrelationContext) -> list[Evidence]:
    """Resolved incidents of the same service with how they ended (category and culprit)."""
    items = []
    for incident in sorted(incidents, key=lambda i: (as_utc(i.first_event_at), i.id)):
        if incident.service != ctx.service.name or incident.resolution is None:
            continue
        resolution = incident.resolution
        details = {
            "incident_id": incident.id,
            "title": incident.title,
            "service": incident.service,
            "status": incident.status.value,
            "opened": iso(incident.first_event_at),
            "resolution": resolution.model_dump(mode="json"),
        }
        culprit = f" ({resolution.culprit})" if resolution.culprit else ""
        summary = f"past incident {incident.title or incident.id}: {resolution.category.value}{culprit}"
        if resolution.summary:
            summary += f" - {resolution.summary[:200]}"
        items.append(
            Evidence(
                kind=EvidenceKind.PAST_INCIDENT,
                source="memory",
                at=incident.first_event_at,
                entity=incident.id,
                summary=summary,
                details=details,
            )
        )
    return items
