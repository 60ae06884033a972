"""What evidence says about the state of things rather than about a change: which CloudWatch metrics measure
load, saturation or infrastructure health, which log lines say that credentials, capacity, a zone or a host
failed, and which resource a metric or a line is about. Pattern tables and small pure helpers; `causes` builds
the candidate causes from them.

The tables are deliberately conservative: a pattern belongs here only when a line matching it means the same
thing in every service (an `OutOfMemoryError` is memory exhaustion wherever it is logged). Anything vaguer
(a timeout, a 500) says nothing about the cause and stays out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from oncall_agent.investigation.correlate import taxonomy

LOAD, SATURATION, INFRASTRUCTURE = "load", "saturation", "infrastructure"

LOAD_METRICS = frozenset(
    {
        "RequestCount",  # ALB / ELB
        "RequestCountPerTarget",
        "NewConnectionCount",
        "ActiveConnectionCount",
        "ProcessedBytes",
        "Invocations",  # Lambda
        "ConcurrentExecutions",
        "NumberOfMessagesReceived",  # SQS
        "NumberOfMessagesSent",
        "NumberOfMessagesPublished",  # SNS
        "IncomingRecords",  # Kinesis
        "IncomingBytes",
        "ConsumedReadCapacityUnits",  # DynamoDB
        "ConsumedWriteCapacityUnits",
    }
)
LOAD_METRICS_BY_NAMESPACE = {"AWS/ApiGateway": frozenset({"Count"}), "AWS/CloudFront": frozenset({"Requests"})}

SATURATION_METRICS: dict[str, str] = {
    # metric name -> the direction that means "running out"
    "CPUUtilization": "up",
    "MemoryUtilization": "up",
    "MemoryUtilized": "up",  # Container Insights
    "EphemeralStorageUtilized": "up",
    "CPUReservation": "up",
    "MemoryReservation": "up",
    "mem_used_percent": "up",  # CloudWatch agent
    "disk_used_percent": "up",
    "DatabaseConnections": "up",  # RDS
    "ClientConnections": "up",  # RDS Proxy
    "SwapUsage": "up",
    "DiskQueueDepth": "up",
    "EngineCPUUtilization": "up",  # ElastiCache
    "DatabaseMemoryUsagePercentage": "up",
    "CurrConnections": "up",
    "Evictions": "up",
    "Throttles": "up",  # Lambda concurrency
    "ThrottledRequests": "up",  # DynamoDB
    "ReadThrottleEvents": "up",
    "WriteThrottleEvents": "up",
    "ErrorPortAllocation": "up",  # NAT gateway source ports
    "process_open_fds": "up",  # Prometheus process collector (Container Insights Prometheus, AMP)
    "procstat_num_fds": "up",  # CloudWatch agent procstat
    "FreeStorageSpace": "down",
    "FreeableMemory": "down",
    "FreeLocalStorage": "down",
    "CPUCreditBalance": "down",
    "BurstBalance": "down",
    "EBSIOBalance%": "down",
    "EBSByteBalance%": "down",
}

INFRASTRUCTURE_METRICS: dict[str, str] = {
    "StatusCheckFailed": "up",  # EC2
    "StatusCheckFailed_System": "up",
    "StatusCheckFailed_Instance": "up",
    "StatusCheckFailed_AttachedEBS": "up",
    "VolumeStalledIOCheck": "up",  # EBS
    "UnHealthyHostCount": "up",  # ELB target health
    "HealthyHostCount": "down",
    "HealthCheckStatus": "down",  # Route 53
    "TunnelState": "down",  # Site-to-site VPN
}
AWS_SIDE_CHECKS = frozenset({"StatusCheckFailed_System", "StatusCheckFailed_AttachedEBS", "VolumeStalledIOCheck"})
"""Checks that only fail for a problem on AWS's side (hardware, network, power of the host), never for our code."""

RESOURCE_DIMENSIONS = (
    "DBInstanceIdentifier",
    "DBClusterIdentifier",
    "CacheClusterId",
    "ReplicationGroupId",
    "ServiceName",
    "TaskDefinitionFamily",  # Container Insights task metrics (Prometheus too): the service's tasks
    "FunctionName",
    "InstanceId",
    "NatGatewayId",
    "VolumeId",
    "FileSystemId",
    "TableName",
    "QueueName",
    "CertificateArn",
    "AutoScalingGroupName",
    "TargetGroup",
    "LoadBalancer",
    "ClusterName",
)
"""Dimensions that name a resource, most specific first (a target group before its load balancer)."""
LOCATION_DIMENSIONS = frozenset({"AvailabilityZone", "AvailabilityZoneId"})


_SATURATION_KINDS = {
    "connections": frozenset({"DatabaseConnections", "ClientConnections", "CurrConnections"}),
    "disk": frozenset(
        {"FreeStorageSpace", "FreeLocalStorage", "disk_used_percent", "EphemeralStorageUtilized", "DiskQueueDepth"}
    ),
    "memory": frozenset(
        {
            "MemoryUtilization",
            "MemoryUtilized",
            "FreeableMemory",
            "SwapUsage",
            "mem_used_percent",
            "DatabaseMemoryUsagePercentage",
            "Evictions",
        }
    ),
}


BUSY_METRICS = frozenset({"CPUUtilization", "EngineCPUUtilization", "CPUReservation", "DiskQueueDepth"})
"""Saturation metrics that say a resource is busy rather than out of something: a CPU at 95% still serves."""


def saturation_kind(name: str) -> str | None:
    """connections | disk | memory for a saturation metric of that resource, else None (CPU, credits...)."""
    return next((kind for kind, names in _SATURATION_KINDS.items() if name in names), None)


def metric_class(namespace: str, name: str) -> str | None:
    """load | saturation | infrastructure | None (errors, latency and everything else)."""
    if name in LOAD_METRICS or name in LOAD_METRICS_BY_NAMESPACE.get(namespace, ()):
        return LOAD
    if name in SATURATION_METRICS:
        return SATURATION
    if name in INFRASTRUCTURE_METRICS:
        return INFRASTRUCTURE
    return None


def bad_direction(name: str) -> str:
    """The direction of a metric that means trouble: `down` for free space, balances and health, else `up`."""
    return SATURATION_METRICS.get(name) or INFRASTRUCTURE_METRICS.get(name) or "up"


def metric_resource(dimensions: Mapping[str, str]) -> str | None:
    """The resource a metric is about, by its most specific resource dimension."""
    for key in RESOURCE_DIMENSIONS:
        if dimensions.get(key):
            return str(dimensions[key])
    return None


def metric_zone(dimensions: Mapping[str, str]) -> str | None:
    return next((str(dimensions[key]) for key in sorted(LOCATION_DIMENSIONS) if dimensions.get(key)), None)


# --- log lines ------------------------------------------------------------------------------------------------

CREDENTIAL, EXHAUSTION = "credential", "exhaustion"
EXPIRED, REJECTED, DENIED = "expired", "rejected", "denied"
"""Credential failures (the taxonomy's `credential` family), strongest first: `expired` says what happened;
`rejected` means the secret, key or certificate presented is not (or no longer) the right one; `denied` is as
likely a permissions change (an IAM policy edit is a configuration change), so it weighs least. Capacity running
out is the `exhaustion` family: a client-side pool wait or throttling is weaker, since it also follows a slow or
unreachable dependency. The classes and their patterns are data: `symptom_classes.yaml`."""


def credential_symptom(texts: list[str]) -> taxonomy.SymptomClass | None:
    """The strongest credential failure class the lines state, or None."""
    return taxonomy.strongest(texts, CREDENTIAL)


def exhaustion_symptom(texts: list[str]) -> taxonomy.SymptomClass | None:
    """The strongest capacity exhaustion class the lines state, or None."""
    return taxonomy.strongest(texts, EXHAUSTION)


def credential_class(texts: list[str]) -> tuple[str, float] | None:
    """(kind, strength) of the strongest credential failure the lines state, or None."""
    found = credential_symptom(texts)
    return (found.kind, found.strength) if found else None


def exhaustion_class(texts: list[str]) -> tuple[str, float] | None:
    """(kind, strength) of the strongest capacity exhaustion the lines state, or None."""
    found = exhaustion_symptom(texts)
    return (found.kind, found.strength) if found else None


def suggested_causes(texts: list[str]) -> set[str]:
    """The cause categories the lines' symptom classes suggest (`credential_expiry` for an expired certificate,
    `resource_exhaustion` for an OOM kill...); empty for lines that only say a call failed or nothing at all."""
    return {c.category.value for c in taxonomy.classes() if c.category and any(c.matches(t) for t in texts)}


def call_failures(texts: list[str]) -> list[str]:
    """The failed-call classes the lines state (timeout, connection_refused, dns_failure...), in taxonomy order:
    what a caller sees of any cause, so they describe a failure without explaining it."""
    return [c.name for c in taxonomy.classes() if c.family == "call_failure" and any(c.matches(t) for t in texts)]


_ZONE = re.compile(r"(?<![A-Za-z0-9-])([a-z]{2}(?:-gov)?-[a-z]+-\d[a-z]|[a-z]{3,4}\d-az\d{1,2})(?![A-Za-z0-9-])")
_INSTANCE = re.compile(r"(?<![A-Za-z0-9-])(i-[0-9a-f]{8}(?:[0-9a-f]{9})?)(?![A-Za-z0-9-])")
_MANAGED_HOST = re.compile(
    r"(?<![A-Za-z0-9.-])([a-z][a-z0-9-]{0,62})\.[a-z0-9]+\.(?:[a-z0-9-]+\.){0,4}(?:rds|cache)\.amazonaws\.com"
)
_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:[A-Za-z0-9_/+=,.@:-]+")
_ACCESS_KEY = re.compile(r"(?<![A-Z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])")
_CERT_SUBJECT = re.compile(r"\bCN=([A-Za-z0-9*][A-Za-z0-9.*-]+)")
_KEY_ID = re.compile(r"""\b(?:kid|key[_ -]?id)["']?\s*[:=]\s*["']?([A-Za-z0-9][A-Za-z0-9._:-]{3,})""", re.I)
_SECRET = re.compile(r"\bsecret(?:Id| id| name)?[=: ]+['\"]?([A-Za-z0-9/_+=.@-]*/[A-Za-z0-9/_+=.@-]+)", re.I)


def zones(texts: Iterable[str]) -> set[str]:
    """Availability zones (`us-east-1b`) and zone ids (`use1-az4`) the lines name."""
    return {match for text in texts for match in _ZONE.findall(text)}


def instances(texts: Iterable[str]) -> set[str]:
    """EC2 instance ids the lines name."""
    return {match for text in texts for match in _INSTANCE.findall(text)}


def managed_resources(texts: Iterable[str]) -> set[str]:
    """RDS instances and ElastiCache clusters the lines name by endpoint (`orders-db.abc123.us-east-1.rds...`)."""
    return {match for text in texts for match in _MANAGED_HOST.findall(text)}


def credential_identifiers(texts: Iterable[str]) -> list[str]:
    """What a credential failure names, most specific first: ARNs (a certificate, a secret, a role), access
    key ids, signing key ids (a JWT `kid`), secret names with a path, certificate subjects. Deduplicated, in
    that order."""
    corpus = list(texts)
    found: list[str] = []
    for pattern in (_ARN, _ACCESS_KEY, _KEY_ID, _SECRET, _CERT_SUBJECT):
        for text in corpus:
            for match in pattern.finditer(text):
                if text[match.end() : match.end() + 1] == "<":  # cut short by a drain3 mask (<NUM>): not an id
                    continue
                value = (match.group(1) if pattern.groups else match.group(0)).rstrip(".,;:'\")")
                if value and not any(value in earlier for earlier in found):  # not a part of an ARN already named
                    found.append(value)
    return found


# --- CloudTrail ---------------------------------------------------------------------------------------------

CREDENTIAL_EVENTS: dict[str, frozenset[str]] = {
    "secretsmanager.amazonaws.com": frozenset(
        {"RotateSecret", "PutSecretValue", "UpdateSecret", "UpdateSecretVersionStage", "DeleteSecret"}
    ),
    "iam.amazonaws.com": frozenset(
        {
            "CreateAccessKey",
            "UpdateAccessKey",
            "DeleteAccessKey",
            "UpdateLoginProfile",
            "DeleteLoginProfile",
            "UploadServerCertificate",
            "UpdateServerCertificate",
            "DeleteServerCertificate",
            "UpdateSigningCertificate",
        }
    ),
    "acm.amazonaws.com": frozenset({"ImportCertificate", "DeleteCertificate", "RenewCertificate"}),
    "elasticloadbalancing.amazonaws.com": frozenset({"AddListenerCertificates", "RemoveListenerCertificates"}),
}
"""CloudTrail writes that replace or revoke a credential: a secret value, an access key, a password, a
certificate. (Permission changes - IAM policies, key policies - are configuration changes.)"""
_CREDENTIAL_PARAMETERS = ("masterUserPassword", "manageMasterUserPassword", "rotateMasterUserPassword")
_SECRET_NAME = re.compile(r"password|passwd|secret|token|credential|api[-_]?key", re.I)
CREDENTIAL_ID_PARAMETERS = (
    "secretId",
    "accessKeyId",
    "certificateArn",
    "serverCertificateName",
    "dBInstanceIdentifier",
    "dBClusterIdentifier",
    "name",
    "userName",
)


def is_credential_event(source: str, name: str, parameters: Mapping[str, object]) -> bool:
    """A CloudTrail write that rotates, replaces or revokes a credential."""
    if name in CREDENTIAL_EVENTS.get(source, ()):
        return True
    if source == "rds.amazonaws.com" and name in {"ModifyDBInstance", "ModifyDBCluster"}:
        return any(parameters.get(key) for key in _CREDENTIAL_PARAMETERS)
    if source == "ssm.amazonaws.com" and name == "PutParameter":
        return parameters.get("type") == "SecureString" and bool(_SECRET_NAME.search(str(parameters.get("name", ""))))
    if source == "elasticloadbalancing.amazonaws.com" and name == "ModifyListener":
        return bool(parameters.get("certificates"))
    return False
