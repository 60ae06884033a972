"""Seeders of a scenario's data-side resources (format 2): RDS instances, clusters and proxies, SQS, DynamoDB,
ElastiCache, OpenSearch, Kinesis, Lambda functions, each through its own API with the scenario's id as the
identifier CloudWatch uses. Type-specific `attributes` go where that API takes them, so the describe call
that reports them on AWS reports them here.
"""

from __future__ import annotations

from typing import Any

from oncall_agent.sandbox import moto_resources
from oncall_agent.sandbox.scenario import ResourceSpec
from oncall_agent.sandbox.scenario_resources import DB_CLUSTER, DB_INSTANCE, DB_PROXY
from oncall_agent.sandbox.seed_resources import ResourceContext, tag_list

SANDBOX_PASSWORD = "sandbox-password-1"  # noqa: S105 - a local moto database's fixed password
SQS_ATTRIBUTES = frozenset(
    {
        "DelaySeconds",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "VisibilityTimeout",
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "FifoThroughputLimit",
        "KmsMasterKeyId",
        "SqsManagedSseEnabled",
    }
)
_PARAMETER_FAMILIES = {"postgres": "postgres16", "mysql": "mysql8.0", "mariadb": "mariadb10.11"}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _db_parameters(ctx: ResourceContext, resource: ResourceSpec, engine: str) -> dict[str, Any]:
    """`max_connections` lives in the instance's parameter group on AWS (DescribeDBParameters)."""
    if "max_connections" not in resource.attributes:
        return {}
    rds, name = ctx.client("rds"), f"{resource.id}-params"
    family = _PARAMETER_FAMILIES.get(engine, f"{engine}1")
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily=family, Description=name)
    value = str(resource.attributes["max_connections"])
    parameter = {"ParameterName": "max_connections", "ParameterValue": value, "ApplyMethod": "immediate"}
    rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=[parameter])
    return {"DBParameterGroupName": name}


def _aurora_cluster(ctx: ResourceContext, resource: ResourceSpec, engine: str) -> str | None:
    """The cluster an Aurora instance belongs to: `attributes.db_cluster_identifier`, else a declared cluster
    of the same engine (Aurora instances exist only inside a cluster)."""
    named = resource.attributes.get("db_cluster_identifier")
    if named:
        return str(named)
    clusters = [r for r in ctx.scenario.resources if r.type == DB_CLUSTER]
    same = [r.id for r in clusters if (r.engine or "aurora-postgresql") == engine]
    found = same or [r.id for r in clusters]
    return found[0] if found else None


def seed_db_instance(ctx: ResourceContext, resource: ResourceSpec) -> None:
    engine, attributes = resource.engine or "postgres", resource.attributes
    request: dict[str, Any] = {
        "DBInstanceIdentifier": resource.id,
        "DBInstanceClass": attributes.get("instance_class", "db.r6g.large"),
        "Tags": tag_list(resource.tags),
    }
    cluster = _aurora_cluster(ctx, resource, engine) if engine.startswith("aurora") else None
    if cluster is not None:
        request |= {"Engine": engine, "DBClusterIdentifier": cluster}  # storage and credentials are the cluster's
    else:
        # An Aurora engine with no cluster to join is seeded as its standalone engine (moto has no other way).
        standalone = {"aurora-postgresql": "postgres", "aurora-mysql": "mysql", "aurora": "mysql"}.get(engine, engine)
        request |= {
            "Engine": standalone,
            "AllocatedStorage": int(attributes.get("allocated_storage", 100)),
            "MasterUsername": "sandbox",
            "MasterUserPassword": SANDBOX_PASSWORD,
        }
        request |= _db_parameters(ctx, resource, standalone)
    named = {
        "availability_zone": "AvailabilityZone",
        "ca_certificate_identifier": "CACertificateIdentifier",
        "engine_version": "EngineVersion",
    }
    for name, key in named.items():
        if name in attributes:
            request[key] = str(attributes[name])
    if "multi_az" in attributes:
        request["MultiAZ"] = bool(attributes["multi_az"])
    created = ctx.client("rds").create_db_instance(**request)["DBInstance"]
    ctx.register(resource, created["DBInstanceArn"])


def seed_db_cluster(ctx: ResourceContext, resource: ResourceSpec) -> None:
    version = (
        {"EngineVersion": str(resource.attributes["engine_version"])} if "engine_version" in resource.attributes else {}
    )
    created = ctx.client("rds").create_db_cluster(
        DBClusterIdentifier=resource.id,
        Engine=resource.engine or "aurora-postgresql",
        MasterUsername="sandbox",
        MasterUserPassword=SANDBOX_PASSWORD,
        Tags=tag_list(resource.tags),
        **version,
    )["DBCluster"]
    ctx.register(resource, created["DBClusterArn"])


def _engine_family(ctx: ResourceContext, resource: ResourceSpec) -> str:
    if "engine_family" in resource.attributes:
        return str(resource.attributes["engine_family"]).upper()
    engines = [r.engine or "" for r in ctx.scenario.resources if r.id in resource.targets]
    named = resource.engine or (engines[0] if engines else "postgres")
    return "MYSQL" if "mysql" in named or "maria" in named else "POSTGRESQL"


def seed_db_proxy(ctx: ResourceContext, resource: ResourceSpec) -> None:
    """The proxy and its targets (DescribeDBProxyTargets), registered after the databases exist."""
    rds = ctx.client("rds")
    secret = f"arn:aws:secretsmanager:{ctx.region}:{ctx.account}:secret:{resource.id}-credentials"
    created = rds.create_db_proxy(
        DBProxyName=resource.id,
        EngineFamily=_engine_family(ctx, resource),
        Auth=[{"AuthScheme": "SECRETS", "SecretArn": secret, "IAMAuth": "DISABLED"}],
        RoleArn=f"arn:aws:iam::{ctx.account}:role/{resource.id}-proxy",
        VpcSubnetIds=ctx.network["subnets"],
        Tags=tag_list(resource.tags),
    )["DBProxy"]
    ctx.register(resource, created["DBProxyArn"])
    kinds = {r.id: r.type for r in ctx.scenario.resources}
    instances = [t for t in resource.targets if kinds.get(t) == DB_INSTANCE]
    clusters = [t for t in resource.targets if kinds.get(t) == DB_CLUSTER]
    rds.register_db_proxy_targets(
        DBProxyName=resource.id, DBInstanceIdentifiers=instances, DBClusterIdentifiers=clusters
    )
    pool = {
        key: int(resource.attributes[name])
        for name, key in (
            ("max_connections_percent", "MaxConnectionsPercent"),
            ("max_idle_connections_percent", "MaxIdleConnectionsPercent"),
            ("connection_borrow_timeout", "ConnectionBorrowTimeout"),
        )
        if name in resource.attributes
    }
    if pool:  # DescribeDBProxyTargetGroups reports the pool's settings
        rds.modify_db_proxy_target_group(TargetGroupName="default", DBProxyName=resource.id, ConnectionPoolConfig=pool)
    port = 3306 if created["EngineFamily"] == "MYSQL" else 5432
    ctx.renamed += moto_resources.complete_proxy_targets(ctx.account, ctx.region, resource.id, port)


def seed_queue(ctx: ResourceContext, resource: ResourceSpec) -> None:
    sqs = ctx.client("sqs")
    # Queue attributes SQS takes at creation; other settings in `attributes` are not SQS's and are left out.
    attributes = {_camel(k): str(v) for k, v in resource.attributes.items() if _camel(k) in SQS_ATTRIBUTES}
    if resource.id.endswith(".fifo"):
        attributes["FifoQueue"] = "true"
    url = sqs.create_queue(QueueName=resource.id, Attributes=attributes, tags=resource.tags)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ctx.register(resource, arn)


def seed_table(ctx: ResourceContext, resource: ResourceSpec) -> None:
    """A table keyed by `pk`; provisioned when `read_capacity`/`write_capacity` are given, else on demand."""
    attributes = resource.attributes
    capacity: dict[str, Any] = {"BillingMode": "PAY_PER_REQUEST"}
    provisioned = str(attributes.get("billing_mode", "")).upper() == "PROVISIONED"
    if provisioned or "read_capacity" in attributes or "write_capacity" in attributes:
        units = {
            "ReadCapacityUnits": int(attributes.get("read_capacity", 5)),
            "WriteCapacityUnits": int(attributes.get("write_capacity", 5)),
        }
        capacity = {"BillingMode": "PROVISIONED", "ProvisionedThroughput": units}
    created = ctx.client("dynamodb").create_table(
        TableName=resource.id,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        Tags=tag_list(resource.tags),
        **capacity,
    )["TableDescription"]
    ctx.register(resource, created["TableArn"])


def seed_replication_group(ctx: ResourceContext, resource: ResourceSpec) -> None:
    attributes = resource.attributes
    created = ctx.client("elasticache").create_replication_group(
        ReplicationGroupId=resource.id,
        ReplicationGroupDescription=str(attributes.get("description", resource.id)),
        Engine=resource.engine or "redis",
        CacheNodeType=str(attributes.get("node_type", "cache.r6g.large")),
        NumCacheClusters=int(attributes.get("num_cache_clusters", 2)),
        AutomaticFailoverEnabled=bool(attributes.get("automatic_failover", True)),
        Tags=tag_list(resource.tags),
    )["ReplicationGroup"]
    ctx.register(resource, created["ARN"])


def seed_domain(ctx: ResourceContext, resource: ResourceSpec) -> None:
    """An OpenSearch domain named by the id (CloudWatch's DomainName dimension)."""
    attributes = resource.attributes
    cluster = {
        "InstanceType": str(attributes.get("instance_type", "r6g.large.search")),
        "InstanceCount": int(attributes.get("instance_count", 3)),
    }
    request: dict[str, Any] = {"DomainName": resource.id, "ClusterConfig": cluster, "TagList": tag_list(resource.tags)}
    if "engine_version" in attributes:
        request["EngineVersion"] = str(attributes["engine_version"])
    created = ctx.client("opensearch").create_domain(**request)["DomainStatus"]
    ctx.register(resource, created["ARN"], "es:domain")


def seed_stream(ctx: ResourceContext, resource: ResourceSpec) -> None:
    kinesis = ctx.client("kinesis")
    kinesis.create_stream(StreamName=resource.id, ShardCount=int(resource.attributes.get("shard_count", 1)))
    if resource.tags:
        kinesis.add_tags_to_stream(StreamName=resource.id, Tags=resource.tags)
    arn = kinesis.describe_stream_summary(StreamName=resource.id)["StreamDescriptionSummary"]["StreamARN"]
    ctx.register(resource, arn, "kinesis:stream")


def seed_function(ctx: ResourceContext, resource: ResourceSpec) -> None:
    """A Lambda function named by the id (CloudWatch's FunctionName); `attributes`: `runtime`, `timeout`,
    `memory_size`, `reserved_concurrency` (GetFunctionConcurrency)."""
    from oncall_agent.sandbox.seed_aws_deploys import function_code, service_role

    attributes, lambda_ = resource.attributes, ctx.client("lambda")
    role = service_role(ctx.client("iam"), f"{resource.id}-role"[:64], "lambda.amazonaws.com")
    created = lambda_.create_function(
        FunctionName=resource.id,
        Runtime=str(attributes.get("runtime", "python3.12")),
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": function_code(1)},
        Timeout=int(attributes.get("timeout", 30)),
        MemorySize=int(attributes.get("memory_size", 512)),
        Tags=resource.tags,
    )
    if "reserved_concurrency" in attributes:
        lambda_.put_function_concurrency(
            FunctionName=resource.id, ReservedConcurrentExecutions=int(attributes["reserved_concurrency"])
        )
    ctx.register(resource, created["FunctionArn"])


def seed_repository(ctx: ResourceContext, resource: ResourceSpec) -> None:
    """An ECR repository named by the id; `attributes.image_tag_mutability` (MUTABLE or IMMUTABLE)."""
    mutability = str(resource.attributes.get("image_tag_mutability", "MUTABLE")).upper()
    created = ctx.client("ecr").create_repository(
        repositoryName=resource.id, imageTagMutability=mutability, tags=tag_list(resource.tags)
    )["repository"]
    ctx.register(resource, created["repositoryArn"], "ecr:repository")


def seed_certificate(ctx: ResourceContext, resource: ResourceSpec) -> None:
    """An ACM certificate whose id is its ARN (CloudWatch's CertificateArn); `attributes`: `domain_name`,
    `type` (IMPORTED or AMAZON_ISSUED)."""
    acm = ctx.client("acm")
    domain = str(resource.attributes.get("domain_name", "service.example.com"))
    created = acm.request_certificate(DomainName=domain)["CertificateArn"]
    kind = str(resource.attributes["type"]).upper() if "type" in resource.attributes else None
    ctx.renamed += moto_resources.rename_certificate(ctx.account, ctx.region, created, resource.id, kind)
    if resource.tags:
        acm.add_tags_to_certificate(CertificateArn=resource.id, Tags=tag_list(resource.tags))
    ctx.register(resource, resource.id)


def seed_secret(ctx: ResourceContext, resource: ResourceSpec) -> None:
    """A Secrets Manager secret named by the id, with a placeholder value."""
    created = ctx.client("secretsmanager").create_secret(
        Name=resource.id, SecretString="sandbox-secret-value", Tags=tag_list(resource.tags)
    )
    ctx.register(resource, created["ARN"])


CLUSTER_SEEDERS = {DB_CLUSTER: seed_db_cluster}  # before the instances that join them
DATA_SEEDERS = {
    "AWS::CertificateManager::Certificate": seed_certificate,
    "AWS::SecretsManager::Secret": seed_secret,
    "AWS::ECR::Repository": seed_repository,
    "AWS::Lambda::Function": seed_function,
    DB_INSTANCE: seed_db_instance,
    "AWS::SQS::Queue": seed_queue,
    "AWS::DynamoDB::Table": seed_table,
    "AWS::ElastiCache::ReplicationGroup": seed_replication_group,
    "AWS::OpenSearchService::Domain": seed_domain,
    "AWS::Kinesis::Stream": seed_stream,
}
PROXY_SEEDERS = {DB_PROXY: seed_db_proxy}
