"""Golden signals per CloudFormation resource type, as data: namespace, the dimensions naming one resource, and
per metric its statistic, kind, bad direction and the hard limit AWS publishes (see signal_model for the shape).

Each profile cites the AWS page its metric names and dimensions come from. Statistics are the ones those pages
call relevant; latencies are read as Average or Maximum (not percentiles) so one batched request never depends
on extended statistics. Limits are only those AWS itself states (a percentage's 100, ElastiCache's fixed
`maxclients` of 65,000, SQS's 120,000 in-flight messages, OpenSearch's write block at 92 % JVM memory pressure,
API Gateway's 29 s integration timeout) or that the resource itself carries (`max_connections`, provisioned
capacity, a Lambda's timeout, a queue's retention). A count whose any non-zero value means a refusal (NAT port
allocation errors, an index write block) has limit 1.
"""

from __future__ import annotations

from oncall_agent.investigation.neighbourhood.golden_behind import BEHIND
from oncall_agent.investigation.neighbourhood.golden_front import FRONT
from oncall_agent.investigation.neighbourhood.signal_model import Profile

GOLDEN_SIGNALS: tuple[Profile, ...] = FRONT + BEHIND


def profiles_for(resource_type: str) -> list[Profile]:
    return [profile for profile in GOLDEN_SIGNALS if profile.type == resource_type]


def namespaces() -> list[str]:
    """Every namespace the table reads, in table order (what ListMetrics is asked about)."""
    return list(dict.fromkeys(profile.namespace for profile in GOLDEN_SIGNALS))


def type_for_dimension(namespace: str, dimension: str) -> tuple[str, Profile] | None:
    """The resource type whose single `{id}` dimension this is (ListMetrics values -> resources)."""
    for profile in GOLDEN_SIGNALS:
        if profile.namespace == namespace and profile.dimensions.get(dimension) == "{id}":
            return profile.type, profile
    return None
