"""The pattern tables behind the causes without a change: what a metric measures, what a log line says, which
resource it names, which CloudTrail writes replace a credential."""

from __future__ import annotations

import pytest

from oncall_agent.investigation.correlate import symptoms


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [
        ("AWS/ApplicationELB", "RequestCount", "load"),
        ("AWS/ApiGateway", "Count", "load"),
        ("AWS/Lambda", "Invocations", "load"),
        ("AWS/ECS", "MemoryUtilization", "saturation"),
        ("AWS/RDS", "FreeStorageSpace", "saturation"),
        ("ECS/ContainerInsights/Prometheus", "process_open_fds", "saturation"),
        ("CWAgent", "procstat_num_fds", "saturation"),
        ("AWS/EC2", "StatusCheckFailed_System", "infrastructure"),
        ("AWS/ApplicationELB", "UnHealthyHostCount", "infrastructure"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", None),
        ("Custom/App", "Count", None),
    ],
)
def test_metric_classes(namespace: str, name: str, expected: str | None) -> None:
    assert symptoms.metric_class(namespace, name) == expected


def test_free_space_balances_and_health_are_bad_when_they_fall() -> None:
    assert [symptoms.bad_direction(n) for n in ("FreeStorageSpace", "HealthyHostCount", "CPUUtilization")] == [
        "down",
        "down",
        "up",
    ]


def test_the_most_specific_resource_dimension_names_the_resource() -> None:
    assert symptoms.metric_resource({"ClusterName": "prod", "ServiceName": "checkout"}) == "checkout"
    assert symptoms.metric_resource({"ClusterName": "prod", "TaskDefinitionFamily": "checkout"}) == "checkout"
    balancer = {"LoadBalancer": "app/x/1", "TargetGroup": "targetgroup/tg/2"}
    assert symptoms.metric_resource(balancer) == "targetgroup/tg/2"
    assert symptoms.metric_zone({"TargetGroup": "tg", "AvailabilityZone": "us-east-1b"}) == "us-east-1b"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("x509: certificate has expired or is not yet valid", "expired"),
        ("SSLHandshakeException: Received fatal alert: certificate_expired", "expired"),
        ("An error occurred (ExpiredToken): The security token included in the request is expired", "expired"),
        ("AADSTS7000222: The provided client secret keys for app 'abc' are expired.", "expired"),
        ('FATAL: password authentication failed for user "app"', "rejected"),
        ("InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records", "rejected"),
        ("AccessDenied: User arn:aws:sts::1:assumed-role/x is not authorized to perform: s3:GetObject", "denied"),
        ("the cache key is expired, refreshing", None),
        ("user session expired, redirecting to login", None),
        ("GET /cart 200 12ms", None),
    ],
)
def test_credential_failures(line: str, expected: str | None) -> None:
    found = symptoms.credential_class([line])
    assert (found[0] if found else None) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("java.lang.OutOfMemoryError: Java heap space", ("memory", 1.0)),
        ("Memory cgroup out of memory: Killed process 4242 (java)", ("memory", 1.0)),
        ("FATAL: sorry, too many clients already", ("connections", 1.0)),
        ("FATAL: remaining connection slots are reserved for non-replication superusers", ("connections", 1.0)),
        ('ERROR: could not extend file "base/1/2": No space left on device', ("disk", 1.0)),
        ("HikariPool-1 - Connection is not available, request timed out after 30000ms", ("pool", 0.5)),
        ("http: Accept error: accept tcp [::]:8080: accept4: too many open files; retrying in 1s", ("threads", 1.0)),
        ("POST /orders 500 boom", None),
        ("connect timed out", None),
    ],
)
def test_exhaustion_lines(line: str, expected: tuple[str, float] | None) -> None:
    assert symptoms.exhaustion_class([line]) == expected


def test_zones_hosts_endpoints_and_credential_names_in_lines() -> None:
    lines = [
        "ERROR az=us-east-1b peer i-0a1b2c3d4e5f60718 (use1-az4) timed out",
        "connect to orders-db.c9xk2l4m8n0p.us-east-1.rds.amazonaws.com:5432 failed",
        "OOM command not allowed (sessions.x8y7z6.ng.0001.use1.cache.amazonaws.com:6379)",
        "b-2.payments-events.kafka.us-east-1.amazonaws.com:9094 unreachable",
    ]
    assert symptoms.zones(lines) == {"us-east-1b", "use1-az4"}
    assert symptoms.instances(lines) == {"i-0a1b2c3d4e5f60718"}
    assert symptoms.managed_resources(lines) == {"orders-db", "sessions"}
    named = symptoms.credential_identifiers(
        [
            "upload failed: InvalidAccessKeyId key=AKIAZ7Q3EXAMPLE4K2MN",
            "could not read secret id prod/orders/db: AccessDenied on arn:aws:secretsmanager:us-east-1:1:secret:prod/x",
        ]
    )
    assert named == ["arn:aws:secretsmanager:us-east-1:1:secret:prod/x", "AKIAZ7Q3EXAMPLE4K2MN", "prod/orders/db"]


@pytest.mark.parametrize(
    ("source", "name", "parameters", "expected"),
    [
        ("secretsmanager.amazonaws.com", "RotateSecret", {"secretId": "prod/x"}, True),
        ("secretsmanager.amazonaws.com", "PutSecretValue", {}, True),
        ("iam.amazonaws.com", "UpdateAccessKey", {"status": "Inactive"}, True),
        ("acm.amazonaws.com", "ImportCertificate", {}, True),
        ("rds.amazonaws.com", "ModifyDBInstance", {"masterUserPassword": "HIDDEN_DUE_TO_SECURITY_REASONS"}, True),
        ("rds.amazonaws.com", "ModifyDBInstance", {"allocatedStorage": 400}, False),
        ("ssm.amazonaws.com", "PutParameter", {"name": "/orders/prod/db-password", "type": "SecureString"}, True),
        ("ssm.amazonaws.com", "PutParameter", {"name": "/orders/prod/batch-size", "type": "String"}, False),
        ("iam.amazonaws.com", "DetachRolePolicy", {"roleName": "x"}, False),
        ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", {}, False),
    ],
)
def test_credential_events(source: str, name: str, parameters: dict[str, object], expected: bool) -> None:
    assert symptoms.is_credential_event(source, name, parameters) is expected


def test_a_signing_key_id_is_a_credential_identifier() -> None:
    jwt = '{"msg":"token rejected","err":"x5c: certificate chain verification failed","kid":"Xb2k9-rs256-2025"}'
    assert symptoms.credential_identifiers([jwt]) == ["Xb2k9-rs256-2025"]
    assert symptoms.credential_identifiers(["JWT rejected: key_id=abc-123 expired"]) == ["abc-123"]
    assert symptoms.credential_identifiers(["the key was rotated"]) == []


def test_an_identifier_cut_short_by_a_template_mask_is_left_for_the_sample_line() -> None:
    template = '{"msg":"token rejected","kid":"Xb2k9-rs256-<NUM>"}'
    sample = '{"msg":"token rejected","kid":"Xb2k9-rs256-2025"}'
    assert symptoms.credential_identifiers([template, sample]) == ["Xb2k9-rs256-2025"]
