"""The weights of the ranking's logistic (see `rank` for how they combine and the calibration points), the
order in which a hypothesis's summary names its features, and the logistic itself."""

from __future__ import annotations

import math

from oncall_agent.investigation.correlate.dependency_cause import DIAGNOSED_WEIGHT
from oncall_agent.investigation.correlate.driven import DRIVEN_WEIGHT, DROVE_WEIGHT
from oncall_agent.investigation.correlate.log_dependency import UPSTREAM_ERRORS_FIRST_WEIGHT

BIAS = -3.0
# Whether a change touches the path and can produce what the incident shows (`change_fit`): the same for every
# kind of change.
CHANGE_PATH_WEIGHTS = {
    "on_path": 1.0,
    "kind_fits": 0.5,
    "implausible_kind": -3.0,
    "kind_mismatch": -1.5,
    "off_path": -1.5,
    "path_moved_first": -2.0,
    "path_moved_later": -1.0,
    "aws_issue_open": -1.5,
    "effect_named": 2.0,
}
CHANGE_WEIGHTS = {
    "proximity": 1.5,
    "shift_alignment": 2.0,
    "new_signatures_after": 1.5,
    "logs_mention_change": 1.0,
    "on_service": 1.0,
    "change_ticket": 0.3,
    "past_incident_match": 0.6,
    "errors_predate_change": -2.0,
    "upstream_alarm_first": -1.5,
    "upstream_errors_first": UPSTREAM_ERRORS_FIRST_WEIGHT,
    "superseded": -0.7,
    "overtaken": -1.0,
    "chronic_mention": -0.5,
    "after_onset": -3.0,
    "load_surge": -2.0,
    "infra_alarm_first": -2.0,
    "autoscaling": -2.5,
    "expired_credentials": -1.5,
    **CHANGE_PATH_WEIGHTS,
    "throughput_drop": 1.5,
    "traffic_gone": -2.0,
    "traffic_followed": 1.0,
    "drove_path": DROVE_WEIGHT,
}
CREDENTIAL_CHANGE_WEIGHTS = {
    "proximity": 1.0,
    "shift_alignment": 1.0,
    "new_signatures_after": 0.5,
    "credential_errors_after": 3.5,
    "logs_mention_change": 1.0,
    "on_service": 1.0,
    "change_ticket": 0.3,
    "past_incident_match": 0.6,
    "no_credential_errors": -1.5,
    "errors_predate_change": -1.5,
    "upstream_alarm_first": -1.5,
    "upstream_errors_first": UPSTREAM_ERRORS_FIRST_WEIGHT,
    "superseded": -0.7,
    "chronic_mention": -0.5,
    "after_onset": -3.0,
    "load_surge": -2.0,
    "infra_alarm_first": -2.0,
    "autoscaling": -2.5,
    **CHANGE_PATH_WEIGHTS,
}
DEPENDENCY_WEIGHTS = {
    "upstream_first": 3.2,
    "logs_mention_dependency": 1.5,
    "past_incident_match": 0.6,
    "change_ticket": 0.3,
    "chronic_alarm": -2.0,
    "chronic_mention": -0.5,
    "infra_alarm_first": -1.5,
    "dependency_diagnosed": DIAGNOSED_WEIGHT,
    "our_release_drove_it": DRIVEN_WEIGHT,
}
TRAFFIC_WEIGHTS = {
    "load_up": 3.0,
    "load_leads": 1.0,
    "load_alarm": 1.5,
    "strained": 0.5,
    "past_incident_match": 0.6,
    "change_explains": -2.5,
    "dependency_explains": -1.5,
}
EXHAUSTION_WEIGHTS = {
    "saturated": 2.0,
    "exhaustion_logs": 2.5,
    "limit_stated": 1.5,
    "scaled_out_first": 0.5,
    "strain_first": 1.0,
    "gradual": 0.7,
    "past_incident_match": 0.6,
    "load_up": -2.0,
    "chronic_strain": -1.5,
    "change_explains": -2.5,
    "dependency_explains": -1.5,
}
EXPIRY_WEIGHTS = {
    "credential_errors": 3.5,
    "abrupt": 1.0,
    "names_credential": 0.5,
    "certificate_alarm": 1.0,
    "past_incident_match": 0.6,
    "change_explains": -2.5,
    "dependency_explains": -1.5,
}
INFRASTRUCTURE_WEIGHTS = {
    "infra_alarm": 3.2,
    "zonal_errors": 1.5,
    "past_incident_match": 0.6,
    "load_up": -1.0,
    "change_explains": -2.5,
    "dependency_explains": -0.5,
}
SUMMARY_ORDER = (
    "dependency_diagnosed",
    "drove_path",
    "proximity",
    "upstream_first",
    "load_up",
    "load_leads",
    "saturated",
    "exhaustion_logs",
    "limit_stated",
    "scaled_out_first",
    "credential_errors",
    "abrupt",
    "certificate_alarm",
    "infra_alarm",
    "zonal_errors",
    "shift_alignment",
    "throughput_drop",
    "credential_errors_after",
    "new_signatures_after",
    "logs_mention_change",
    "logs_mention_dependency",
    "dependency_errors_first",
    "gradual",
    "strained",
    "change_ticket",
    "past_incident_match",
    "superseded",
    "overtaken",
    "upstream_alarm_first",
    "upstream_errors_first",
    "load_surge",
    "infra_alarm_first",
    "autoscaling",
    "expired_credentials",
    "change_explains",
    "dependency_explains",
    "other_cause_explains",
    "moved_first",
    "limit_reached",
    "slow_burn",
    "aws_event",
    "errors_fit",
    "deeper_first",
    "on_path",
    "effect_named",
    "kind_fits",
    "implausible_kind",
    "kind_mismatch",
    "off_path",
    "path_moved_first",
    "path_moved_later",
    "aws_issue_open",
    "consequence",
    "chronic",
    "own_resource_first",
    "load_explains",
    "elsewhere",
    "traffic_gone",
    "traffic_followed",
    "our_release_drove_it",
)


def confidence(features: dict[str, float], weights: dict[str, float]) -> float:
    score = BIAS + sum(weight * features.get(name, 0.0) for name, weight in weights.items())
    return round(1.0 / (1.0 + math.exp(-score)), 4)
