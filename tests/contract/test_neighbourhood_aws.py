"""The neighbourhood adapters against moto server (topology links, tagging, ListMetrics, batched GetMetricData,
RDS events, ECS events and stopped tasks) and AWS Health against a small local server speaking its JSON 1.1
protocol (moto has no Health API). Resources are created here through the real APIs with boto3; expected
values are what was created.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from oncall_agent.adapters.aws.aws_events import AwsEventReader
from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.metrics import CloudWatchMetricReader
from oncall_agent.adapters.aws.topology import AwsTopologyReader
from oncall_agent.domain.alarm import MetricSpec
from oncall_agent.domain.budget import CallMeter, metered
from oncall_agent.domain.records import AwsEventSource, MetricQuery
from oncall_agent.ports import AwsEventFeed, MetricBatchReader, TopologyReader

pytestmark = [pytest.mark.sandbox]

REGION = "ap-southeast-2"  # a region no other contract module seeds in the shared moto server
SERVICE = "nb-orders-api"


def _factory(endpoint: str, api: str) -> Callable[[str], Any]:
    return functools.partial(
        make_client, api, endpoint_url=endpoint, access_key_id="testing", secret_access_key="testing", max_attempts=1
    )


@pytest.fixture(scope="module")
def world(moto_endpoint: str) -> dict[str, str]:
    """An ALB -> target group <- ECS service, a WAF web ACL on the ALB, a DB behind a proxy, tagged queue and
    table, two metrics; returns the ARNs created."""
    c = {
        api: _factory(moto_endpoint, api)(REGION) for api in ("ec2", "elbv2", "ecs", "wafv2", "rds", "sqs", "dynamodb")
    }
    vpc = c["ec2"].create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        c["ec2"].create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"][
            "SubnetId"
        ]
        for i, z in ((1, "a"), (2, "b"))
    ]
    lb = c["elbv2"].create_load_balancer(Name="nb-core", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    tg = c["elbv2"].create_target_group(Name="nb-orders", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0][
        "TargetGroupArn"
    ]
    c["elbv2"].create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}]
    )
    c["ecs"].create_cluster(clusterName="nb-core")
    c["ecs"].register_task_definition(
        family="nb-orders", containerDefinitions=[{"name": "app", "image": "x", "memory": 256}]
    )
    c["ecs"].create_service(
        cluster="nb-core",
        serviceName=SERVICE,
        taskDefinition="nb-orders",
        desiredCount=1,
        loadBalancers=[{"targetGroupArn": tg, "containerName": "app", "containerPort": 80}],
    )
    acl = c["wafv2"].create_web_acl(
        Name="nb-edge",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig={"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": True, "MetricName": "nb"},
    )["Summary"]["ARN"]
    c["wafv2"].associate_web_acl(WebACLArn=acl, ResourceArn=lb)
    c["rds"].create_db_instance(
        DBInstanceIdentifier="nb-orders-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="u",
        MasterUserPassword="password123",
        AllocatedStorage=20,
    )
    c["rds"].create_db_proxy(
        DBProxyName="nb-orders-proxy",
        EngineFamily="POSTGRESQL",
        RoleArn="arn:aws:iam::123456789012:role/p",
        Auth=[{"AuthScheme": "SECRETS", "SecretArn": "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:s"}],
        VpcSubnetIds=subnets,
    )
    c["rds"].register_db_proxy_targets(DBProxyName="nb-orders-proxy", DBInstanceIdentifiers=["nb-orders-db"])
    queue = c["sqs"].create_queue(QueueName="nb-orders-events", tags={"service": SERVICE, "env": "prod"})["QueueUrl"]
    c["sqs"].create_queue(QueueName="nb-orders-events-staging", tags={"service": SERVICE, "env": "staging"})
    c["dynamodb"].create_table(
        TableName="nb-payments-ledger",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "service", "Value": "nb-payments"}],
    )
    return {"lb": lb, "tg": tg, "acl": acl, "queue": queue}


@pytest.fixture(scope="module")
def topology(moto_endpoint: str) -> TopologyReader:
    apis = ("ecs", "elbv2", "wafv2", "rds", "resourcegroupstaggingapi", "sqs", "dynamodb", "lambda", "kinesis")
    return AwsTopologyReader({api: _factory(moto_endpoint, api) for api in apis})


def test_ecs_target_group_load_balancer_and_waf(world: dict[str, str], topology: TopologyReader) -> None:
    meter = CallMeter("neighbourhood", limit=10)
    with metered(meter):
        assert topology.ecs_target_groups(REGION, "nb-core", SERVICE) == [world["tg"]]
        assert topology.load_balancers(REGION, [world["tg"]]) == {world["tg"]: [world["lb"]]}
        by_name = topology.load_balancers(REGION, ["targetgroup/nb-orders/0123abcd", "targetgroup/nb-missing/1"])
        assert by_name == {world["tg"]: [world["lb"]]}
        assert topology.web_acl(REGION, world["lb"]) == world["acl"]
    assert meter.calls["ecs.DescribeServices"] == 1 and meter.total == 5  # every request charged to the budget


def test_proxy_targets_and_tags(world: dict[str, str], topology: TopologyReader) -> None:
    assert topology.proxy_targets(REGION, "nb-orders-proxy") == [("AWS::RDS::DBInstance", "nb-orders-db")]
    agree = {SERVICE: {"env": "prod"}, "nb-payments": {"env": "prod"}}
    tagged = topology.tagged(REGION, "service", [SERVICE, "nb-payments", "nb-nobody"], agree)
    # The staging queue is tagged for the service in another environment; the ledger has no env tag: kept.
    assert [arn.rsplit(":", 1)[-1] for arn in tagged[SERVICE]] == ["nb-orders-events"]
    assert [arn.rsplit("/", 1)[-1] for arn in tagged["nb-payments"]] == ["nb-payments-ledger"]
    assert tagged["nb-nobody"] == []
    everything = topology.tagged(REGION, "service", [SERVICE])
    assert sorted(arn.rsplit(":", 1)[-1] for arn in everything[SERVICE]) == [
        "nb-orders-events",
        "nb-orders-events-staging",
    ]


def test_list_metrics_and_one_batched_read(moto_endpoint: str) -> None:
    cloudwatch = _factory(moto_endpoint, "cloudwatch")(REGION)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for minutes, value in ((5, 100.0), (4, 110.0), (3, 480.0)):
        cloudwatch.put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "DatabaseConnections",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "nb-orders-db"}],
                    "Timestamp": now - timedelta(minutes=minutes),
                    "Value": value,
                }
            ],
        )
    reader: MetricBatchReader = CloudWatchMetricReader(_factory(moto_endpoint, "cloudwatch"))
    listing = reader.list_metrics(REGION, "AWS/RDS", max_pages=2)
    assert not listing.truncated
    assert (
        MetricSpec(namespace="AWS/RDS", name="DatabaseConnections", dimensions={"DBInstanceIdentifier": "nb-orders-db"})
        in listing.metrics
    )
    spec = MetricSpec(
        namespace="AWS/RDS", name="DatabaseConnections", dimensions={"DBInstanceIdentifier": "nb-orders-db"}
    )
    none = MetricSpec(namespace="AWS/RDS", name="FreeStorageSpace", dimensions={"DBInstanceIdentifier": "nb-orders-db"})
    queries = [MetricQuery(metric=spec, stat="Maximum"), MetricQuery(metric=none, stat="Minimum")] * 300  # 600 > 500
    meter = CallMeter("neighbourhood", limit=10)
    with metered(meter):
        batch = reader.get_many(REGION, queries, now - timedelta(minutes=30), now)
    assert meter.calls["cloudwatch.GetMetricData"] == 2  # 500 queries per request
    assert len(batch.series) == 600 and not batch.failed
    assert [v for _, v in batch.series[0].points] == [100.0, 110.0, 480.0] == [v for _, v in batch.series[598].points]
    assert batch.series[1].points == [] and batch.series[1].stat == "Minimum"


def test_rds_and_ecs_events(world: dict[str, str], moto_endpoint: str) -> None:
    ecs = _factory(moto_endpoint, "ecs")(REGION)
    task = ecs.run_task(cluster="nb-core", taskDefinition="nb-orders", launchType="FARGATE", group=f"service:{SERVICE}")
    arn = task["tasks"][0]["taskArn"]
    ecs.stop_task(cluster="nb-core", task=arn, reason="OutOfMemoryError: Container killed due to memory usage")
    feed: AwsEventFeed = AwsEventReader({api: _factory(moto_endpoint, api) for api in ("rds", "ecs", "health")})
    now = datetime.now(UTC)
    rds = feed.rds_events(REGION, now - timedelta(hours=1), now + timedelta(minutes=1))
    created = [e for e in rds if e.resource == "nb-orders-db"]
    assert created and created[0].source is AwsEventSource.RDS and created[0].details["source_type"] == "db-instance"
    assert feed.rds_events(REGION, now - timedelta(hours=3), now - timedelta(hours=2)) == []  # window honoured
    events = feed.ecs_events(REGION, "nb-core", SERVICE, now - timedelta(hours=1), now + timedelta(minutes=1))
    stopped = [e for e in events if e.source is AwsEventSource.ECS_TASK]
    assert [e.details["stopped_reason"] for e in stopped] == ["OutOfMemoryError: Container killed due to memory usage"]
    assert stopped[0].resource == SERVICE and stopped[0].details["task"] == arn


# --- AWS Health: a local server speaking JSON 1.1 ----------------------------------------------------------------

HEALTH_ARN = "arn:aws:health:ap-southeast-2::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/abc"
OLD_ARN = "arn:aws:health:ap-southeast-2::event/RDS/AWS_RDS_MAINTENANCE/old"
NOTICE_ARN = "arn:aws:health:ap-southeast-2::event/ACM/AWS_ACM_RENEWAL_STATE_CHANGE/notice"


class _Health(BaseHTTPRequestHandler):
    seen: list[tuple[str, dict[str, Any]]] = []
    start = datetime.now(UTC) - timedelta(minutes=40)

    def do_POST(self) -> None:
        operation = self.headers["X-Amz-Target"].removeprefix("AWSHealth_20160804.")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        self.seen.append((operation, body))
        start, old = self.start.timestamp(), (self.start - timedelta(hours=20)).timestamp()
        answers = {
            "DescribeEvents": {
                "events": [
                    {
                        "arn": HEALTH_ARN,
                        "service": "EC2",
                        "eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE",
                        "eventTypeCategory": "issue",
                        "region": REGION,
                        "startTime": start,
                        "statusCode": "open",
                        "availabilityZone": "ap-southeast-2b",
                    },
                    {
                        "arn": OLD_ARN,
                        "service": "RDS",
                        "eventTypeCode": "AWS_RDS_MAINTENANCE",
                        "eventTypeCategory": "scheduledChange",
                        "region": REGION,
                        "startTime": old,
                        "endTime": old + 600,
                        "statusCode": "closed",
                    },
                ]
                + (
                    [  # a notice sent a month ahead and still open: only the open-events query asks for it
                        {
                            "arn": NOTICE_ARN,
                            "service": "ACM",
                            "eventTypeCode": "AWS_ACM_RENEWAL_STATE_CHANGE",
                            "eventTypeCategory": "accountNotification",
                            "region": REGION,
                            "startTime": start - 30 * 86400,
                            "statusCode": "open",
                        }
                    ]
                    if "eventStatusCodes" in body.get("filter", {})
                    else []
                )
            },
            "DescribeEventDetails": {
                "successfulSet": [
                    {
                        "event": {"arn": HEALTH_ARN},
                        "eventDescription": {"latestDescription": "Increased API error rates"},
                    }
                ]
            },
            "DescribeAffectedEntities": {"entities": [{"eventArn": HEALTH_ARN, "entityValue": "i-0abc1234"}]},
        }
        payload = json.dumps(answers[operation]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture()
def health_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_health_events_with_details_and_entities(health_endpoint: str) -> None:
    feed = AwsEventReader({"health": _factory(health_endpoint, "health")})
    now = datetime.now(UTC)
    events = feed.health_events(REGION, now - timedelta(hours=3), now)  # the one closed before the window is left
    assert sorted(e.details.get("type") for e in events) == [
        "AWS_ACM_RENEWAL_STATE_CHANGE",
        "AWS_EC2_OPERATIONAL_ISSUE",
    ]
    event = next(e for e in events if e.details.get("type") == "AWS_EC2_OPERATIONAL_ISSUE")
    assert (event.source, event.resource, event.message) == (
        AwsEventSource.HEALTH,
        "i-0abc1234",
        "Increased API error rates",
    )
    assert event.details["availability_zone"] == "ap-southeast-2b" and event.details["status"] == "open"
    assert abs((event.at - _Health.start).total_seconds()) < 1
    flt = next(body for op, body in _Health.seen if op == "DescribeEvents")["filter"]
    assert flt["regions"] == [REGION, "global"] and "startTimes" in flt


def test_attributes_limits_depend_on(moto_endpoint: str, topology: TopologyReader) -> None:
    c = {api: _factory(moto_endpoint, api)(REGION) for api in ("rds", "sqs", "dynamodb", "lambda", "kinesis", "iam")}
    c["rds"].create_db_parameter_group(
        DBParameterGroupName="nb-pg", DBParameterGroupFamily="postgres16", Description="limits"
    )
    c["rds"].modify_db_parameter_group(
        DBParameterGroupName="nb-pg",
        Parameters=[{"ParameterName": "max_connections", "ParameterValue": "500", "ApplyMethod": "pending-reboot"}],
    )
    c["rds"].create_db_instance(
        DBInstanceIdentifier="nb-limited-db",
        DBInstanceClass="db.r6g.large",
        Engine="postgres",
        MasterUsername="u",
        MasterUserPassword="password123",
        AllocatedStorage=100,
        DBParameterGroupName="nb-pg",
    )
    c["sqs"].create_queue(QueueName="nb-jobs", Attributes={"MessageRetentionPeriod": "345600"})
    c["dynamodb"].create_table(
        TableName="nb-carts",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 50, "WriteCapacityUnits": 100},
    )
    c["kinesis"].create_stream(StreamName="nb-clicks", ShardCount=1)
    c["kinesis"].increase_stream_retention_period(StreamName="nb-clicks", RetentionPeriodHours=48)
    role = c["iam"].create_role(RoleName="nb-fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    c["lambda"].create_function(
        FunctionName="nb-thumbs",
        Runtime="python3.12",
        Role=role,
        Handler="a.b",
        Timeout=30,
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
    c["lambda"].put_function_concurrency(FunctionName="nb-thumbs", ReservedConcurrentExecutions=20)
    db = topology.attributes(REGION, "AWS::RDS::DBInstance", "nb-limited-db")
    assert (db["max_connections"], db["instance_class"], db["allocated_storage_gb"]) == (500, "db.r6g.large", 100)
    assert topology.attributes(REGION, "AWS::SQS::Queue", "nb-jobs") == {"message_retention_period": 345600}
    assert topology.attributes(REGION, "AWS::DynamoDB::Table", "nb-carts") == {
        "read_capacity": 50,
        "write_capacity": 100,
    }
    assert topology.attributes(REGION, "AWS::Kinesis::Stream", "nb-clicks") == {"retention_ms": 48 * 3_600_000}
    assert topology.attributes(REGION, "AWS::Lambda::Function", "nb-thumbs") == {
        "timeout_ms": 30_000,
        "reserved_concurrency": 20,
    }
    assert topology.attributes(REGION, "AWS::WAFv2::WebACL", "nb-edge") == {}  # nothing a limit depends on


def test_lambda_event_sources_and_destinations(moto_endpoint: str, topology: TopologyReader) -> None:
    c = {api: _factory(moto_endpoint, api)(REGION) for api in ("sqs", "lambda", "iam")}
    role = c["iam"].create_role(RoleName="nb-resizer", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    c["lambda"].create_function(
        FunctionName="nb-resizer",
        Runtime="python3.12",
        Role=role,
        Handler="a.b",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
    jobs_url = c["sqs"].create_queue(QueueName="nb-resize-jobs")["QueueUrl"]
    jobs = c["sqs"].get_queue_attributes(QueueUrl=jobs_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    failed_url = c["sqs"].create_queue(QueueName="nb-resize-failed")["QueueUrl"]
    failed = c["sqs"].get_queue_attributes(QueueUrl=failed_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    c["lambda"].create_event_source_mapping(EventSourceArn=jobs, FunctionName="nb-resizer")
    assert topology.lambda_links(REGION, "nb-resizer") == [("source", jobs)]  # no destinations configured yet
    c["lambda"].put_function_event_invoke_config(
        FunctionName="nb-resizer", DestinationConfig={"OnFailure": {"Destination": failed}}
    )
    assert topology.lambda_links(REGION, "nb-resizer") == [("source", jobs), ("destination", failed)]
