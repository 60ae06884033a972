"""Golden signals of what sits behind a service: databases, proxies, caches, queues, tables, search domains,
streams, NAT gateways and Direct Connect links. Part of the table in golden_signals.py (see there, and
signal_model for the fields)."""

from __future__ import annotations

from oncall_agent.investigation.neighbourhood.signal_model import Profile, Signal

S = Signal  # short: the table is one signal per line

_RDS_DOC = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html"
_REDIS = (
    S("EngineCPUUtilization", "Maximum", "saturation", "up", limit=100),
    S("DatabaseMemoryUsagePercentage", "Maximum", "saturation", "up", limit=100),
    S("Evictions", "Sum", "saturation", "up"),
    S("CurrConnections", "Maximum", "saturation", "up", limit=65000),  # maxclients: fixed at 65,000
)
_DYNAMO_OPS = ("GetItem", "PutItem", "Query")
# PostgreSQL refuses ordinary clients ("remaining connection slots are reserved for non-replication superuser
# connections") once max_connections - superuser_reserved_connections (3 by default) are in use; MySQL admits one
# more than max_connections for an administrator. Three short of the limit is at the limit for either engine.
_DB_CONNECTIONS = S("DatabaseConnections", "Maximum", "saturation", "up", limit_attribute="max_connections", reserved=3)

BEHIND: tuple[Profile, ...] = (
    Profile(
        "AWS::RDS::DBInstance",
        "AWS/RDS",
        {"DBInstanceIdentifier": "{id}"},
        (
            _DB_CONNECTIONS,
            S("CPUUtilization", "Maximum", "saturation", "up", limit=100),
            S("FreeStorageSpace", "Minimum", "saturation", "down", limit=0),
            # Aurora publishes the local (temporary-table, log) storage per instance, bound to its class.
            S("FreeLocalStorage", "Minimum", "saturation", "down", limit=0),
            S("FreeableMemory", "Minimum", "saturation", "down", limit=0),
            S("BurstBalance", "Minimum", "saturation", "down", limit=0),
            S("DiskQueueDepth", "Maximum", "saturation", "up"),
            # PostgreSQL refuses writes 3,000,000 transaction ids before wraparound at 2^31 (varsup.c xidStopLimit).
            S("MaximumUsedTransactionIDs", "Maximum", "saturation", "up", limit=2_144_483_648),
            S("ReadLatency", "Average", "latency", "up"),
            S("WriteLatency", "Average", "latency", "up"),
            S("ReplicaLag", "Maximum", "latency", "up"),
        ),
        _RDS_DOC,
    ),
    Profile(
        "AWS::RDS::DBCluster",
        "AWS/RDS",
        {"DBClusterIdentifier": "{id}"},
        (
            _DB_CONNECTIONS,
            S("CPUUtilization", "Maximum", "saturation", "up", limit=100),
            S("FreeLocalStorage", "Minimum", "saturation", "down", limit=0),
            S("Deadlocks", "Sum", "errors", "up"),
            S("CommitLatency", "Average", "latency", "up"),
            S("AuroraReplicaLag", "Maximum", "latency", "up"),
        ),
        "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html",
    ),
    Profile(
        "AWS::RDS::DBProxy",
        "AWS/RDS",
        {"ProxyName": "{id}"},
        (
            S("ClientConnections", "Maximum", "load", "up"),
            S("DatabaseConnections", "Maximum", "saturation", "up"),
            S("DatabaseConnectionsCurrentlyBorrowed", "Maximum", "saturation", "up"),
            S("DatabaseConnectionsBorrowLatency", "Average", "latency", "up"),  # microseconds
            S("QueryDatabaseResponseLatency", "Average", "latency", "up"),
            S("DatabaseConnectionsSetupFailed", "Sum", "errors", "up"),
            S("ClientConnectionsSetupFailedAuth", "Sum", "errors", "up"),
        ),
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.monitoring.html",
    ),
    # ElastiCache publishes per node cluster (CacheClusterId); a replication group's primary is <group>-001.
    Profile(
        "AWS::ElastiCache::ReplicationGroup",
        "AWS/ElastiCache",
        {"CacheClusterId": "{id}-001"},
        _REDIS,
        "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.Redis.html",
    ),
    Profile(
        "AWS::ElastiCache::CacheCluster",
        "AWS/ElastiCache",
        {"CacheClusterId": "{id}"},
        _REDIS,
        "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.Redis.html",
    ),
    Profile(
        "AWS::SQS::Queue",
        "AWS/SQS",
        {"QueueName": "{id}"},
        (
            S("NumberOfMessagesSent", "Sum", "load", "up"),
            S("NumberOfMessagesDeleted", "Sum", "load", "down"),
            S("ApproximateNumberOfMessagesVisible", "Maximum", "saturation", "up"),
            S("ApproximateNumberOfMessagesNotVisible", "Maximum", "saturation", "up", limit=120000),
            S("ApproximateAgeOfOldestMessage", "Maximum", "latency", "up", limit_attribute="message_retention_period"),
        ),
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html",
    ),
    # Consumed capacity is a Sum per period; provisioned capacity is per second.
    Profile(
        "AWS::DynamoDB::Table",
        "AWS/DynamoDB",
        {"TableName": "{id}"},
        (
            S("ConsumedReadCapacityUnits", "Sum", "load", "up", limit_attribute="read_capacity", limit_per_second=True),
            S(
                "ConsumedWriteCapacityUnits",
                "Sum",
                "load",
                "up",
                limit_attribute="write_capacity",
                limit_per_second=True,
            ),
            S("ReadThrottleEvents", "Sum", "blocked", "up"),
            S("WriteThrottleEvents", "Sum", "blocked", "up"),
            *(S("ThrottledRequests", "Sum", "blocked", "up", dimensions={"Operation": op}) for op in _DYNAMO_OPS),
        ),
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html",
    ),
    # OpenSearch: DomainName + ClientId (the account); writes are blocked at 92 % JVM memory pressure.
    Profile(
        "AWS::OpenSearchService::Domain",
        "AWS/ES",
        {"DomainName": "{id}", "ClientId": "{account}"},
        (
            S("ClusterStatus.red", "Maximum", "health", "up", limit=1),
            S("ClusterStatus.yellow", "Maximum", "health", "up"),
            S("ClusterIndexWritesBlocked", "Maximum", "blocked", "up", limit=1),
            S("ThreadpoolWriteRejected", "Sum", "blocked", "up"),
            S("FreeStorageSpace", "Minimum", "saturation", "down", limit=0),
            S("JVMMemoryPressure", "Maximum", "saturation", "up", limit=92),
            S("CPUUtilization", "Maximum", "saturation", "up", limit=100),
            S("5xx", "Sum", "errors", "up"),
            S("IndexingLatency", "Average", "latency", "up"),
            S("SearchLatency", "Average", "latency", "up"),
        ),
        "https://docs.aws.amazon.com/opensearch-service/latest/developerguide/managedomains-cloudwatchmetrics.html",
    ),
    # Iterator age reaching the retention period (24 h by default) means records are lost.
    Profile(
        "AWS::Kinesis::Stream",
        "AWS/Kinesis",
        {"StreamName": "{id}"},
        (
            S("IncomingRecords", "Sum", "load", "up"),
            S("WriteProvisionedThroughputExceeded", "Sum", "blocked", "up"),
            S("ReadProvisionedThroughputExceeded", "Sum", "blocked", "up"),
            S(
                "GetRecords.IteratorAgeMilliseconds",
                "Maximum",
                "latency",
                "up",
                limit=86_400_000,
                limit_attribute="retention_ms",
            ),
        ),
        "https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html",
    ),
    # A port allocation error means the 55,000 connections per destination are used up.
    Profile(
        "AWS::EC2::NatGateway",
        "AWS/NATGateway",
        {"NatGatewayId": "{id}"},
        (
            S("ConnectionAttemptCount", "Sum", "load", "up"),
            S("ActiveConnectionCount", "Maximum", "load", "up"),
            S("ErrorPortAllocation", "Sum", "blocked", "up", limit=1),
            S("PacketsDropCount", "Sum", "errors", "up"),
            S("IdleTimeoutCount", "Sum", "errors", "up"),
        ),
        "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway-cloudwatch.html",
    ),
    # ConnectionState: 1 up, 0 down.
    Profile(
        "AWS::DirectConnect::Connection",
        "AWS/DX",
        {"ConnectionId": "{id}"},
        (
            S("ConnectionState", "Minimum", "health", "down", limit=0),
            S("ConnectionErrorCount", "Sum", "errors", "up"),
            S("ConnectionBpsEgress", "Average", "load", "up"),
        ),
        "https://docs.aws.amazon.com/directconnect/latest/UserGuide/monitoring-cloudwatch.html",
    ),
)
