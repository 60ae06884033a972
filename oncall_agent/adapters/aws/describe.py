"""Resource attributes a golden signal's limit depends on, read from the describe call AWS reports them in.

RDS DB instance: DescribeDBInstances (class, engine, zone, CA certificate, allocated storage) and
`max_connections` from its parameter group when set to a number (DescribeDBParameters, user-set values);
SQS queue: GetQueueAttributes `MessageRetentionPeriod`; DynamoDB table: DescribeTable provisioned capacity
(nothing for on-demand tables); Lambda function: GetFunctionConfiguration `Timeout` (as ms) and
GetFunctionConcurrency; Kinesis stream: DescribeStreamSummary retention (as ms). Other types: nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

Client = Callable[[str], Any]  # API name -> client


def _rds_instance(client: Client, rid: str) -> dict[str, Any]:
    rds = client("rds")
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=rid)["DBInstances"]
    found: dict[str, Any] = {
        "engine": db.get("Engine"),
        "instance_class": db.get("DBInstanceClass"),
        "availability_zone": db.get("AvailabilityZone"),
        "ca_certificate_identifier": db.get("CACertificateIdentifier"),
        "allocated_storage_gb": db.get("AllocatedStorage"),
    }
    for group in db.get("DBParameterGroups") or []:
        name = group.get("DBParameterGroupName", "")
        if name.startswith("default."):
            continue  # the default groups compute max_connections from memory: no number to read
        answer = rds.describe_db_parameters(DBParameterGroupName=name, Source="user")
        for parameter in answer.get("Parameters") or []:
            value = str(parameter.get("ParameterValue", ""))
            if parameter.get("ParameterName") == "max_connections" and value.isdigit():
                found["max_connections"] = int(value)
    return {k: v for k, v in found.items() if v is not None}


def _sqs_queue(client: Client, rid: str) -> dict[str, Any]:
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=rid)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])["Attributes"]
    return {"message_retention_period": int(attributes["MessageRetentionPeriod"])}


def _dynamodb_table(client: Client, rid: str) -> dict[str, Any]:
    table = client("dynamodb").describe_table(TableName=rid)["Table"]
    throughput = table.get("ProvisionedThroughput") or {}
    read, write = throughput.get("ReadCapacityUnits") or 0, throughput.get("WriteCapacityUnits") or 0
    return {"read_capacity": read, "write_capacity": write} if read or write else {}


def _lambda_function(client: Client, rid: str) -> dict[str, Any]:
    functions = client("lambda")
    config = functions.get_function_configuration(FunctionName=rid)
    found: dict[str, Any] = {"timeout_ms": int(config.get("Timeout", 3)) * 1000}
    try:
        reserved = functions.get_function_concurrency(FunctionName=rid).get("ReservedConcurrentExecutions")
    except ClientError:
        reserved = None  # not every server reports it; the timeout still counts
    if reserved:
        found["reserved_concurrency"] = int(reserved)
    return found


def _kinesis_stream(client: Client, rid: str) -> dict[str, Any]:
    summary = client("kinesis").describe_stream_summary(StreamName=rid)["StreamDescriptionSummary"]
    return {"retention_ms": int(summary["RetentionPeriodHours"]) * 3_600_000}


DESCRIBERS: dict[str, Callable[[Client, str], dict[str, Any]]] = {
    "AWS::RDS::DBInstance": _rds_instance,
    "AWS::SQS::Queue": _sqs_queue,
    "AWS::DynamoDB::Table": _dynamodb_table,
    "AWS::Lambda::Function": _lambda_function,
    "AWS::Kinesis::Stream": _kinesis_stream,
}
