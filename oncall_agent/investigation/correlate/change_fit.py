"""Change plausibility: whether a change touches the service's path and whether its kind can produce what the
incident shows. A change counts in proportion to both, not by timing and name overlap alone.

Features for change candidates (weights in `rank`):
- `on_path`: 1 when the change names a resource of the neighbourhood (the service's load balancer, its WAF web
  ACL, its database...) or a host name the alarm's description names (the DNS record of what it checks), 0.5 for a
  resource of a dependency; a route whose address range holds an address our
  new errors name is on the path too.
- `kind_fits`: 1 when the change's effects (change_effects.yaml) include something the incident shows: `auth`
  (credential failures), `network` (timeouts, refused or reset connections, DNS, or our front door's requests
  falling to a fifth or less: the traffic no longer reaches us), `blocked` (requests blocked at
  the edge, or 4xx at the front door), `capacity` (saturation, throttling, load), `behaviour` (always: the
  service misbehaves), `image` (tasks stopped because their image could not be pulled).
Against: `implausible_kind` (1: the change cannot break requests: a log retention policy, a tag, an alarm),
`kind_mismatch` (1: its effects are known and none shows), `off_path` (1: a route for an address range none of
the addresses our new errors name falls in), `path_moved_first` (1: something behind the service or a
dependency went bad before the change: the change cannot have caused it), `path_moved_later` (1: the change came
more than 10 minutes before the alarm metric moved and something on the path went bad in between, closer to it),
`traffic_followed` (for: a reachability change after which our front door's requests fell away within 5 minutes),
`aws_issue_open` (1: AWS's own feed reported an issue on our path or in the region before the alarm: a change is
not needed to explain it).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import yaml

from oncall_agent.domain.neighbourhood import FRONT
from oncall_agent.domain.time import as_utc
from oncall_agent.investigation.correlate import relations, taxonomy
from oncall_agent.investigation.correlate.candidates import Candidate, Facts
from oncall_agent.investigation.correlate.cause_common import texts
from oncall_agent.investigation.correlate.features import Scored
from oncall_agent.investigation.correlate.timeline import Anomaly

EFFECTS = frozenset({"auth", "network", "blocked", "capacity", "image", "behaviour"})
_NETWORK_KINDS = frozenset(
    {"timeout", "connection_refused", "connection_reset", "dns_failure", "network_unreachable", "circuit_open"}
)
_CIDR_KEYS = ("destinationCidrBlock", "DestinationCidrBlock", "destinationIpv6CidrBlock", "cidrIp", "CidrIp")
_HOST = re.compile(r"(?<![\w.@-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})(?![\w-])", re.I)
_URL_HOST = re.compile(r"\bhttps?://([a-z0-9.-]+\.[a-z]{2,24})", re.I)
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
SLACK = timedelta(minutes=2)
LAG = timedelta(minutes=10)
VANISHED_SHARE = 0.2  # our front door's requests fell to at most this share of their baseline
VANISHED_WITHIN = timedelta(hours=1)
FOLLOWED_WITHIN = timedelta(minutes=5)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Rule:
    source: re.Pattern[str]
    name: re.Pattern[str]
    effects: frozenset[str]


@cache
def rules() -> tuple[Rule, ...]:
    text = resources.files(__package__).joinpath("change_effects.yaml").read_text(encoding="utf-8")
    found = []
    for raw in yaml.safe_load(text)["rules"]:
        effects = frozenset(raw["effects"])
        if not effects <= EFFECTS:
            raise ValueError(f"change_effects.yaml: unknown effects {sorted(effects - EFFECTS)} in {raw}")
        found.append(Rule(re.compile(raw["source"], re.I), re.compile(raw["name"], re.I), effects))
    return tuple(found)


def effects_of(source: str, name: str) -> frozenset[str] | None:
    """What a change of this kind can do (see change_effects.yaml), or None when no rule knows it."""
    return next((r.effects for r in rules() if r.source.search(source) and r.name.search(name)), None)


def observed(facts: Facts, timeline: list[Anomaly]) -> frozenset[str]:
    """The effects the incident shows (see the module docstring)."""
    seen = {"behaviour"}
    for item in facts.signatures:
        if item.details.get("level") not in ("ERROR", "WARN"):
            continue
        for cls in (c for t in texts(item) for c in taxonomy.matching(t)):
            if cls.family == "credential":
                seen.add("auth")
            elif cls.kind in _NETWORK_KINDS or cls.family == "call_failure":
                seen.add("network")
            elif cls.family == "exhaustion":
                seen.add("capacity")
    for anomaly in timeline:
        if anomaly.what in ("image", "secrets"):  # tasks that cannot start: their image or their secrets
            seen.add("image" if anomaly.what == "image" else "auth")
        if anomaly.kind == "blocked":
            seen.add("blocked")
        elif anomaly.kind in ("saturation", "load"):
            seen.add("capacity")
    metric = facts.ctx.alarm_metric
    if metric is not None and re.search(r"4XX|4xx|Blocked", metric.name):
        seen.add("blocked")
    if traffic_vanished(facts):
        seen.add("network")
    return frozenset(seen)


def traffic_vanished(facts: Facts) -> bool:
    """Our front door's requests fell to a small part of what they were about the onset: the traffic no longer
    reaches us (a DNS record, a route or a listener sends it elsewhere) - reachability, like refused calls."""
    return vanished_at(facts) is not None


def vanished_at(facts: Facts) -> datetime | None:
    """When our front door's requests began to fall away (see `traffic_vanished`), or None."""
    since = as_utc(facts.ctx.onset) - VANISHED_WITHIN
    for item in facts.neighbours:
        details = item.details
        if details.get("role") != FRONT or details.get("signal_kind") != "load" or details.get("direction") != "down":
            continue
        before, after = float(details.get("before") or 0.0), float(details.get("after") or 0.0)
        if before > 0 and after <= VANISHED_SHARE * before and item.at is not None and as_utc(item.at) >= since:
            return as_utc(item.at)
    return None


def _traffic_followed(scored: Scored, effects: frozenset[str] | None, facts: Facts) -> None:
    """`traffic_followed`: a reachability change, and our front door's requests fell away within minutes of it -
    the sharpest clock the incident has (per-minute requests), better than a coarse alarm metric's shift."""
    at, fell = scored.candidate.at, vanished_at(facts)
    # Per-minute requests: the minute the change was made may already show it, an earlier one cannot.
    followed = bool(effects and "network" in effects and at and fell and at - MINUTE <= fell <= at + FOLLOWED_WITHIN)
    scored.features["traffic_followed"] = 1.0 if followed else 0.0
    if followed and at and fell:
        scored.notes["traffic_followed"] = (
            f"our load balancer's requests fell away {max(0, int((fell - at).total_seconds() // 60))} min after it"
        )


def _cidr_fit(params: dict[str, Any], facts: Facts) -> float | None:
    """1 / 0 when a route's range holds / holds none of the addresses our new errors name; None otherwise."""
    blocks = [str(params[key]) for key in _CIDR_KEYS if isinstance(params.get(key), str)]
    if not blocks:
        return None
    try:
        networks = [ipaddress.ip_network(block, strict=False) for block in blocks]
    except ValueError:
        return None
    addresses = {m for e in facts.signatures for t in texts(e) for m in _IPV4.findall(t)}
    hosts = []
    for address in addresses:
        try:
            hosts.append(ipaddress.ip_address(address))
        except ValueError:
            continue
    if not hosts:
        return None
    return 1.0 if any(h in n for h in hosts for n in networks if h.version == n.version) else 0.0


def alarm_hosts(description: str) -> set[str]:
    """Host names the alarm's description names (`https://app.example.com/login`, `api.example.com`): what it
    checks. The description is untrusted text: it is only matched against, never followed."""
    found = {m.group(1).lower() for m in _URL_HOST.finditer(description)}
    return found | {h.lower() for h in _HOST.findall(description) if h.count(".") >= 2}


def _alarm_host_named(change_texts: list[str], facts: Facts) -> str | None:
    """A host name the alarm checks that the change names (a DNS record it rewrote)."""
    for host in sorted(alarm_hosts(facts.ctx.alarm_description)):
        pattern = re.compile(rf"(?<![\w.-]){re.escape(host)}(?![\w-])", re.I)
        if any(pattern.search(text) for text in change_texts):
            return host
    return None


def _on_path(texts_of_change: list[str], roles: dict[str, tuple[str, str, str]]) -> float:
    ours = {rid for rid, (role, _, _) in roles.items() if not role.startswith("dependency:")}
    theirs = set(roles) - ours
    if relations.mentions(texts_of_change, ours | {rid.split("/")[1] for rid in ours if rid.count("/") == 2}):
        return 1.0
    return 0.5 if relations.mentions(texts_of_change, theirs) else 0.0


def fit_features(
    scored: Scored,
    details: dict[str, Any],
    roles: dict[str, tuple[str, str, str]],
    seen: frozenset[str],
    facts: Facts,
) -> None:
    """on_path, kind_fits, implausible_kind, kind_mismatch, off_path for one change (see the module docstring)."""
    raw = details.get("parameters")
    params: dict[str, Any] = raw if isinstance(raw, dict) else {}
    change_texts = [*map(str, details.get("resources") or []), *relations.flatten(params)]
    on_path = _on_path(change_texts, roles)
    cidr = _cidr_fit(params, facts)
    scored.features["off_path"] = 1.0 if cidr == 0.0 else 0.0
    if cidr == 1.0:
        on_path = 1.0
    host = _alarm_host_named(change_texts, facts)
    if host:
        on_path = 1.0
    scored.features["on_path"] = on_path
    if on_path:
        checked = f"it changes {host}, which the alarm checks"
        scored.notes["on_path"] = checked if host else "it touches the service's path"
    if cidr == 0.0:
        scored.notes["off_path"] = "but none of the addresses our errors name is in its range"
    effects = effects_of(str(details.get("source") or ""), str(details.get("name") or ""))
    scored.features["implausible_kind"] = 1.0 if effects is not None and not effects else 0.0
    scored.features["kind_mismatch"] = 1.0 if effects and not effects & seen else 0.0
    scored.features["kind_fits"] = 1.0 if effects and effects & seen - {"behaviour"} else 0.0
    _traffic_followed(scored, effects, facts)
    if scored.features["implausible_kind"]:
        scored.notes["implausible_kind"] = f"but a {details.get('name')} cannot break requests"
    elif scored.features["kind_mismatch"]:
        scored.notes["kind_mismatch"] = (
            f"but nothing shows the {'/'.join(sorted(effects or []))} trouble it could cause"
        )


def path_order_features(scored: Scored, cand: Candidate, timeline: list[Anomaly], facts: Facts) -> None:
    """path_moved_first and path_moved_later for one change (see the module docstring)."""
    if cand.at is None:
        return
    at, reference = as_utc(cand.at), as_utc(facts.reference)
    trouble = [a for a in timeline if a.kind != "load" and (a.role == "behind" or a.role.startswith("dependency:"))]
    before = [a for a in trouble if a.at < at - SLACK and a.at <= reference + SLACK and not _chronic(a, facts)]
    scored.features["path_moved_first"] = 1.0 if before else 0.0
    if before:
        scored.notes["path_moved_first"] = f"but {before[0].what} of {before[0].resource} went bad before it"
        scored.evidence_against.append(before[0].evidence_id)
    issues = [a for a in timeline if a.event and a.what == "outage" and a.at <= reference + SLACK]
    issues = [a for a in issues if not _chronic(a, facts)]
    scored.features["aws_issue_open"] = 1.0 if issues else 0.0
    if issues:
        scored.notes["aws_issue_open"] = f"but AWS reported an issue ({issues[0].resource}) at the same time"
        scored.evidence_against.append(issues[0].evidence_id)
    later = [a for a in trouble if at + LAG < a.at <= reference + SLACK] if reference - at > LAG else []
    scored.features["path_moved_later"] = 1.0 if later and not before else 0.0
    if later and not before:
        scored.notes["path_moved_later"] = f"but {later[0].what} of {later[0].resource} went bad closer to the alarm"
        scored.evidence_against.append(later[0].evidence_id)


def _chronic(anomaly: Anomaly, facts: Facts) -> bool:
    return anomaly.at < as_utc(facts.ctx.onset) - timedelta(hours=6) and anomaly.limit_at is None
