"""deploy/oncall-agent.yaml created in moto's CloudFormation (server mode), then read back through the services' own
APIs: the listener rules, roles, service and task definition are as designed and refer to each other.

moto's CloudFormation skips (with a warning) the types in MOTO_SKIPS and fails a stack that reads an attribute of a
skipped resource. So the stack is created as a variant: secrets and the EventBridge connection and API
destination are made first through their own moto APIs and the template's references to them replaced by their
ARNs; the subscription, topic policy, metric filter and alarms (nothing refers to them) are dropped from the
variant and checked against the template itself. `make lint` runs cfn-lint on the unmodified template.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import cfn_yaml

from oncall_agent.coordination import relay
from oncall_agent.settings import load_settings
from oncall_agent.settings.intake import EventBridgeIntakeSettings

pytestmark = [pytest.mark.sandbox, pytest.mark.filterwarnings("ignore:Tried to parse AWS::")]

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
TEMPLATE = DEPLOY / "oncall-agent.yaml"
REGION = "us-east-1"
MOTO_SKIPS = {
    "AWS::SecretsManager::Secret",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::Logs::MetricFilter",
    "AWS::CloudWatch::Alarm",
    "AWS::Events::Connection",
    "AWS::Events::ApiDestination",
}
READ_VERBS = ("Describe", "Get", "List", "Lookup", "BatchGet")
# Not reads, but none changes a watched resource: the Logs Insights query the agent runs, confirming its own
# topic's subscription, assuming the action role (which its trust policy limits), asking the LLM.
TASK_ROLE_NON_READS = {
    "logs:StartQuery",
    "logs:StopQuery",
    "sns:ConfirmSubscription",
    "sts:AssumeRole",
    "sts:TagSession",
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
}


def load_template() -> dict[str, Any]:
    return json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))


def clients(endpoint: str) -> dict[str, Any]:
    names = ["cloudformation", "ec2", "acm", "secretsmanager", "events", "elbv2", "ecs", "iam", "logs", "rds", "sns"]
    return {name: boto3.client(name, endpoint_url=endpoint, region_name=REGION) for name in names}


def network(aws: dict[str, Any]) -> dict[str, str]:
    """A VPC with two public and two private subnets, a certificate and the OIDC client secret, made in moto."""
    ec2 = aws["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{REGION}{'ab'[i % 2]}")["Subnet"][
            "SubnetId"
        ]
        for i in range(4)
    ]
    certificate = aws["acm"].request_certificate(DomainName="oncall.example.com")["CertificateArn"]
    client_secret = aws["secretsmanager"].create_secret(Name=f"oidc-{uuid.uuid4().hex[:8]}", SecretString="s")["ARN"]
    return {
        "VpcId": vpc,
        "PublicSubnetIds": ",".join(subnets[:2]),
        "PrivateSubnetIds": ",".join(subnets[2:]),
        "DomainName": "oncall.example.com",
        "CertificateArn": certificate,
        "OidcIssuer": "https://idp.example.com",
        "OidcAuthorizationEndpoint": "https://idp.example.com/authorize",
        "OidcTokenEndpoint": "https://idp.example.com/token",
        "OidcUserInfoEndpoint": "https://idp.example.com/userinfo",
        "OidcClientId": "oncall-agent",
        "OidcClientSecretArn": client_secret,
        "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/oncall-agent:0.1.0",
        "Replicas": "3",
    }


def replace_references(node: Any, arns: dict[str, str]) -> Any:
    """`Ref X` / `GetAtt X.Arn` / `${X}` of a resource made outside the stack -> its ARN."""
    if isinstance(node, list):
        return [replace_references(item, arns) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in arns:
        return arns[node["Ref"]]
    if set(node) == {"Fn::GetAtt"} and node["Fn::GetAtt"][0] in arns:
        return arns[node["Fn::GetAtt"][0]]
    if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
        text = node["Fn::Sub"]
        for name, arn in arns.items():
            text = text.replace("${" + name + "}", arn)
        return {"Fn::Sub": text}
    return {key: replace_references(value, arns) for key, value in node.items()}


def moto_variant(template: dict[str, Any], aws: dict[str, Any], eventbridge: bool) -> dict[str, Any]:
    variant = copy.deepcopy(template)
    resources = variant["Resources"]
    arns: dict[str, str] = {}
    for name, resource in list(resources.items()):
        if resource["Type"] == "AWS::SecretsManager::Secret":
            secret = aws["secretsmanager"].create_secret(Name=f"{name}-{uuid.uuid4().hex[:8]}", SecretString="x")
            arns[name] = secret["ARN"]
    if eventbridge:
        auth = resources["EventBridgeConnection"]["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]
        connection = aws["events"].create_connection(
            Name=f"oncall-{uuid.uuid4().hex[:8]}",
            AuthorizationType="API_KEY",
            AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": auth["ApiKeyName"], "ApiKeyValue": "x"}},
        )
        arns["EventBridgeConnection"] = connection["ConnectionArn"]
        destination = resources["EventBridgeDestination"]["Properties"]
        arns["EventBridgeDestination"] = aws["events"].create_api_destination(
            Name=f"oncall-{uuid.uuid4().hex[:8]}",
            ConnectionArn=connection["ConnectionArn"],
            InvocationEndpoint=destination["InvocationEndpoint"]["Fn::Sub"].replace(
                "${DomainName}", "oncall.example.com"
            ),
            HttpMethod=destination["HttpMethod"],
        )["ApiDestinationArn"]
    for name in [n for n, r in resources.items() if r["Type"] in MOTO_SKIPS]:
        del resources[name]
    variant["Resources"] = replace_references(resources, arns)
    variant["Outputs"] = replace_references(variant["Outputs"], arns)
    return variant


def create(aws: dict[str, Any], template: dict[str, Any], parameters: dict[str, str]) -> dict[str, str]:
    """Create the stack; answer its resources' physical ids by logical id."""
    name = f"oncall-{uuid.uuid4().hex[:8]}"
    aws["cloudformation"].create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    stack = aws["cloudformation"].describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    summaries = aws["cloudformation"].list_stack_resources(StackName=name)["StackResourceSummaries"]
    return {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}


def actions_of(rule_or_listener: dict[str, Any]) -> list[str]:
    """Action types in their order (moto answers a listener's forward without its Order: its place in the list)."""
    actions = rule_or_listener.get("Actions") or rule_or_listener["DefaultActions"]
    ordered = sorted(enumerate(actions), key=lambda pair: pair[1].get("Order", pair[0] + 1))
    return [action["Type"] for _, action in ordered]


def role_statements(iam: Any, role_name: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
        # moto keeps an `AWS::NoValue` statement as null
        statements += [s for s in policy_document(document)["Statement"] if s is not None]
    return statements


def policy_document(document: str | dict[str, Any]) -> dict[str, Any]:
    """A policy as IAM answers it; moto's CloudFormation stores an inline role policy as Python's repr of it."""
    if isinstance(document, dict):
        return document
    try:
        loaded: dict[str, Any] = json.loads(document)
    except json.JSONDecodeError:
        loaded = ast.literal_eval(document)
    return loaded


def named(items: list[dict[str, str] | None] | None, key: str) -> dict[str, str]:
    """Name -> value of a container's environment or secrets (moto keeps an `AWS::NoValue` item as null)."""
    return {item["name"]: item[key] for item in items or [] if item is not None}


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@pytest.fixture()
def aws(moto_endpoint: str, aws_env: None) -> dict[str, Any]:
    return clients(moto_endpoint)


def test_moto_creates_the_template_as_is_except_the_types_it_skips(aws: dict[str, Any]) -> None:
    template = load_template()
    created = create(aws, template, network(aws))
    skipped = {r["Type"] for name, r in template["Resources"].items() if name not in created and "Condition" not in r}
    assert skipped == MOTO_SKIPS - {"AWS::Events::Connection", "AWS::Events::ApiDestination"}


def test_stack_with_its_own_database(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    parameters = network(aws)
    ids = create(aws, moto_variant(load_template(), aws, eventbridge=False), parameters)

    https, http = ids["HttpsListener"], ids["HttpListener"]
    listeners = {
        item["Port"]: item for item in aws["elbv2"].describe_listeners(ListenerArns=[https, http])["Listeners"]
    }
    assert actions_of(listeners[80]) == ["redirect"]
    assert listeners[443]["Certificates"][0]["CertificateArn"] == parameters["CertificateArn"]
    rules = aws["elbv2"].describe_rules(ListenerArn=https)["Rules"]
    by_path = {rule["Conditions"][0]["PathPatternConfig"]["Values"][0]: rule for rule in rules if rule["Conditions"]}
    assert actions_of(by_path["/webhooks/*"]) == ["forward"]  # SNS, EventBridge, GitHub sign their own requests
    assert actions_of(by_path["/healthz"]) == ["forward"]
    assert actions_of(by_path["/api/*"]) == ["authenticate-oidc", "forward"]
    assert by_path["/api/*"]["Actions"][0]["AuthenticateOidcConfig"]["OnUnauthenticatedRequest"] == "deny"
    console = listeners[443]
    assert actions_of(console) == ["authenticate-oidc", "forward"]
    oidc = console["DefaultActions"][0]["AuthenticateOidcConfig"]
    assert (oidc["Issuer"], oidc["ClientId"]) == (parameters["OidcIssuer"], parameters["OidcClientId"])
    forwards = [a["TargetGroupArn"] for rule in rules for a in rule["Actions"] if a["Type"] == "forward"]
    assert len(forwards) == len(rules) == 4  # the three path rules and the default rule (the console)
    assert set(forwards) == {ids["TargetGroup"]}

    group = aws["elbv2"].describe_target_groups(TargetGroupArns=[ids["TargetGroup"]])["TargetGroups"][0]
    assert (group["HealthCheckPath"], group["Port"], group["TargetType"]) == ("/healthz", 8080, "ip")

    cluster = ids["Cluster"]
    service = aws["ecs"].describe_services(cluster=cluster, services=[ids["Service"]])["services"][0]
    assert service["desiredCount"] == 3
    task = aws["ecs"].describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    # moto's CloudFormation creates the service from Cluster, TaskDefinition and DesiredCount only, and the task
    # definition from its family, containers, volumes and memory: the rest (launch type, network mode, load
    # balancer, subnets, the task's roles) is checked in the template (test_what_moto_cannot_create...).
    container = task["containerDefinitions"][0]
    env = named(container["environment"], "value")
    secrets = named(container["secrets"], "valueFrom")
    iam = aws["iam"]
    task_role = iam.get_role(RoleName=ids["TaskRole"])["Role"]
    action_role = iam.get_role(RoleName=ids["ActionRole"])["Role"]
    database = aws["rds"].describe_db_instances(DBInstanceIdentifier=ids["Database"])["DBInstances"][0]
    assert env["ONCALL_ACTIONS__ROLE_ARN"] == action_role["Arn"]
    assert env["ONCALL_CONSOLE__OIDC__ALB_ARN"] == ids["LoadBalancer"]
    assert json.loads(env["ONCALL_INTAKE__SNS__ALLOWED_TOPIC_ARNS"]) == [ids["AlarmTopic"]]
    assert env["DB_HOST"] == database["Endpoint"]["Address"]
    assert database["Engine"] == "postgres"
    assert not database["PubliclyAccessible"]
    assert set(secrets) == {"AGENT_CONFIG_YAML", "ONCALL_CONSOLE__SESSION_SECRET", "DB_PASSWORD"}
    assert "oncall-agent serve" in container["command"][0]
    # The agent's settings accept what the task sets (secrets as ECS would inject them; the URL the command builds)
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ONCALL_CONSOLE__SESSION_SECRET", "session-key")
    monkeypatch.setenv(
        "ONCALL_STORE__URL", f"postgresql://{env['DB_USER']}:pw@{env['DB_HOST']}:{env['DB_PORT']}/oncall"
    )
    settings = load_settings(None)
    assert settings.actions.role_arn == action_role["Arn"]
    assert settings.console.oidc.enabled
    assert settings.intake.sns.allowed_topic_arns == [ids["AlarmTopic"]]
    assert container["logConfiguration"]["options"]["awslogs-group"] == ids["LogGroup"]
    log_group = aws["logs"].describe_log_groups(logGroupNamePrefix=ids["LogGroup"])["logGroups"][0]
    assert log_group["retentionInDays"] == 30

    read_only = role_statements(iam, task_role["RoleName"])
    for statement in read_only:
        for action in as_list(statement["Action"]):
            verb = action.split(":", 1)[1]
            assert verb.startswith(READ_VERBS) or action in TASK_ROLE_NON_READS, f"task role may {action}"
    assume = [s for s in read_only if "sts:AssumeRole" in as_list(s["Action"])]
    assert [as_list(s["Resource"]) for s in assume] == [[action_role["Arn"]]]

    trust = action_role["AssumeRolePolicyDocument"]
    trust = policy_document(trust)
    (only,) = trust["Statement"]
    assert sorted(as_list(only["Action"])) == ["sts:AssumeRole", "sts:TagSession"]
    assert only["Condition"]["ArnEquals"]["aws:PrincipalArn"] == task_role["Arn"]
    assert only["Condition"]["StringLike"]["sts:RoleSessionName"] == "oncall-*"
    assert set(only["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]) == {
        "oncall-agent:action-id",
        "oncall-agent:incident-id",
        "oncall-agent:approved-by",
        "oncall-agent:action-kind",
    }
    act = json.loads((DEPLOY / "iam" / "act.json").read_text())["Statement"]
    assert role_statements(iam, action_role["RoleName"]) == act


def test_stack_with_an_existing_database_and_eventbridge(aws: dict[str, Any]) -> None:
    url_secret = aws["secretsmanager"].create_secret(Name=f"db-{uuid.uuid4().hex[:8]}", SecretString="postgresql://x")
    parameters = {**network(aws), "DatabaseUrlSecretArn": url_secret["ARN"], "EnableEventBridge": "true"}
    ids = create(aws, moto_variant(load_template(), aws, eventbridge=True), parameters)

    assert "Database" not in ids
    service = aws["ecs"].describe_services(cluster=ids["Cluster"], services=[ids["Service"]])["services"][0]
    task = aws["ecs"].describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    container = task["containerDefinitions"][0]
    secrets = named(container["secrets"], "valueFrom")
    assert secrets["ONCALL_STORE__URL"] == url_secret["ARN"]
    assert "ONCALL_INTAKE__EVENTBRIDGE__SECRET" in secrets
    assert not {"DB_HOST", "DB_USER"} & set(named(container["environment"], "value"))

    rule = ids["AlarmStateRule"]
    pattern = json.loads(aws["events"].describe_rule(Name=rule)["EventPattern"])
    assert pattern == {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}
    (target,) = aws["events"].list_targets_by_rule(Rule=rule)["Targets"]
    destination = aws["events"].describe_api_destination(Name=target["Arn"].split("/")[1])
    assert destination["InvocationEndpoint"] == "https://oncall.example.com/webhooks/eventbridge"


def test_what_moto_cannot_create_is_coherent_in_the_template() -> None:
    """The types moto skips, and the service properties it drops, checked in the template: each refers to what the
    stack makes and the agent serves."""
    resources = load_template()["Resources"]
    service = resources["Service"]["Properties"]
    (container,) = resources["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    (balanced,) = service["LoadBalancers"]
    assert balanced["TargetGroupArn"] == {"Ref": "TargetGroup"}
    assert balanced["ContainerName"] == container["Name"]
    ports = {balanced["ContainerPort"], resources["TargetGroup"]["Properties"]["Port"]}
    assert ports == {container["PortMappings"][0]["ContainerPort"]} == {8080}
    assert service["LaunchType"] == "FARGATE"
    task = resources["TaskDefinition"]["Properties"]
    assert (task["RequiresCompatibilities"], task["NetworkMode"]) == (["FARGATE"], "awsvpc")
    assert task["TaskRoleArn"] == {"Fn::GetAtt": ["TaskRole", "Arn"]}
    assert task["ExecutionRoleArn"] == {"Fn::GetAtt": ["ExecutionRole", "Arn"]}
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert (network["Subnets"], network["AssignPublicIp"]) == ({"Ref": "PrivateSubnetIds"}, "DISABLED")
    assert resources["LoadBalancer"]["Properties"]["Subnets"] == {"Ref": "PublicSubnetIds"}
    subscription = resources["AlarmSubscription"]["Properties"]
    assert subscription["TopicArn"] == {"Ref": "AlarmTopic"}
    assert subscription["Endpoint"] == {"Fn::Sub": "https://${DomainName}/webhooks/sns"}
    assert resources["AlarmSubscription"]["DependsOn"] == "Service"  # the agent is up to confirm it
    connection = resources["EventBridgeConnection"]["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]
    assert connection["ApiKeyName"] == EventBridgeIntakeSettings().header
    assert "EventBridgeSecret" in connection["ApiKeyValue"]["Fn::Sub"]

    metric_filter = resources["OutboxFailedMetricFilter"]["Properties"]
    assert metric_filter["LogGroupName"] == {"Ref": "LogGroup"}
    assert '$.event = "outbox_row_failed"' in metric_filter["FilterPattern"]
    assert '"outbox_row_failed"' in inspect.getsource(relay)  # the event the relay logs when a row gives up
    metric = metric_filter["MetricTransformations"][0]

    alarms = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert {(a["Namespace"], a["MetricName"]) for a in alarms.values()} == {
        ("AWS/ApplicationELB", "UnHealthyHostCount"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
        ("ECS/ContainerInsights", "RunningTaskCount"),
        (metric["MetricNamespace"], metric["MetricName"]),
    }
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AgentAlarmTopic"}]  # never the agent's own intake topic
    assert alarms["RunningTasksAlarm"]["Threshold"] == {"Ref": "Replicas"}
    elb_dimensions = {d["Name"]: d["Value"] for d in alarms["UnhealthyHostsAlarm"]["Dimensions"]}
    assert elb_dimensions == {
        "LoadBalancer": {"Fn::GetAtt": ["LoadBalancer", "LoadBalancerFullName"]},
        "TargetGroup": {"Fn::GetAtt": ["TargetGroup", "TargetGroupFullName"]},
    }


def test_iam_files_hold_the_template_roles() -> None:
    """deploy/iam/*.json are the policies for a deployment without this stack: the same statements as its roles."""
    resources = load_template()["Resources"]
    (readonly,) = [
        p for p in resources["TaskRole"]["Properties"]["Policies"] if p["PolicyName"] == "investigate-readonly"
    ]
    in_file = json.loads((DEPLOY / "iam" / "investigate-readonly.json").read_text())["Statement"]
    stack_only = {"ConfirmAlarmTopicSubscription"}  # in the file with a topic name pattern; the stack names its topic
    assert [s for s in in_file if s["Sid"] not in stack_only] == readonly["PolicyDocument"]["Statement"]
    (act,) = resources["ActionRole"]["Properties"]["Policies"]
    assert json.loads((DEPLOY / "iam" / "act.json").read_text())["Statement"] == act["PolicyDocument"]["Statement"]


# IAM prefix -> the botocore service whose operations it names (where the two differ)
BOTOCORE_SERVICE = {"elasticloadbalancing": "elbv2", "tag": "resourcegroupstaggingapi", "bedrock": "bedrock-runtime"}


def test_every_action_the_roles_name_is_an_aws_operation() -> None:
    """A misspelt action grants nothing and fails no deployment: each one must be an operation of botocore's model."""
    session = boto3.session.Session()
    resources = load_template()["Resources"]
    policies = [p for name in ("TaskRole", "ActionRole") for p in resources[name]["Properties"]["Policies"]]
    actions = {
        action
        for policy in policies
        for statement in policy["PolicyDocument"]["Statement"]
        if "Action" in statement  # the conditional statement is an Fn::If
        for action in as_list(statement["Action"])
    }
    unknown = []
    for action in sorted(actions):
        prefix, operation = action.split(":", 1)
        if action in {"iam:PassRole", "sts:TagSession"}:
            continue  # permissions without an API operation of that name (checked on UpdateService, AssumeRole)
        service = BOTOCORE_SERVICE.get(prefix, prefix)
        operations = session._session.get_service_model(service).operation_names
        if operation not in operations:
            unknown.append(action)
    assert unknown == []


def statements_of(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy's statements, with both branches of a conditional one (Fn::If)."""
    found = []
    for statement in policy["PolicyDocument"]["Statement"]:
        branches = statement["Fn::If"][1:] if "Fn::If" in statement else [statement]
        found += [branch for branch in branches if "Action" in branch]
    return found


def test_the_roles_grant_every_aws_call_of_the_adapters() -> None:
    """Each boto3 call in oncall_agent/adapters/aws (an operation of a service the agent uses) is granted by the
    task role or the action role: a call the roles miss is an AccessDenied on the first real incident."""
    import re

    from botocore import xform_name

    session = boto3.session.Session()._session
    services = ["cloudwatch", "logs", "cloudtrail", "ecs", "lambda", "codedeploy", "elbv2", "wafv2", "rds", "sqs"]
    services += ["resourcegroupstaggingapi", "dynamodb", "kinesis", "health", "sns", "sts"]
    prefix_of = {service: prefix for prefix, service in BOTOCORE_SERVICE.items()}
    operations: dict[str, set[str]] = {}  # snake-case method -> the IAM actions it may be
    for service in services:
        for operation in session.get_service_model(service).operation_names:
            operations.setdefault(xform_name(operation), set()).add(f"{prefix_of.get(service, service)}:{operation}")
    source = "\n".join(p.read_text() for p in (REPO / "oncall_agent" / "adapters" / "aws").glob("*.py"))
    called = set(re.findall(r"\.([a-z][a-z0-9_]+)\(", source)) | set(re.findall(r"get_paginator\(\"(\w+)\"", source))
    called |= set(re.findall(r"_call\(\w+, \"(\w+)\"", source))  # calls made by name (cloudtrail_deploys)
    resources = load_template()["Resources"]
    granted = {
        action
        for name in ("TaskRole", "ActionRole")
        for policy in resources[name]["Properties"]["Policies"]
        for statement in statements_of(policy)
        for action in as_list(statement["Action"])
    }
    missing = sorted(
        f"{method} ({' or '.join(sorted(operations[method]))})"
        for method in called & set(operations)
        if not operations[method] & granted
    )
    assert missing == []
