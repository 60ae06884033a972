"""Golden signals of what sits in front of a service and of its compute: load balancers, target groups, WAF,
ECS, Lambda, API Gateway, CloudFront. Part of the table in golden_signals.py (see there, and signal_model for the
fields)."""

from __future__ import annotations

from oncall_agent.investigation.neighbourhood.signal_model import Profile, Signal

S = Signal  # short: the table is one signal per line

_ALB_DOC = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html"
_NLB_DOC = "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-cloudwatch-metrics.html"
_HEALTH = (
    S("UnHealthyHostCount", "Maximum", "health", "up"),
    S("HealthyHostCount", "Minimum", "health", "down", limit=0),
)

FRONT: tuple[Profile, ...] = (
    # ALB: per load balancer, dimension LoadBalancer = app/name/hash.
    Profile(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS/ApplicationELB",
        {"LoadBalancer": "{id}"},
        (
            S("RequestCount", "Sum", "load", "up"),
            S("ActiveConnectionCount", "Sum", "load", "up"),
            S("HTTPCode_ELB_5XX_Count", "Sum", "errors", "up"),
            S("HTTPCode_Target_5XX_Count", "Sum", "errors", "up"),
            S("HTTPCode_ELB_4XX_Count", "Sum", "blocked", "up"),  # a WAF block answers 403 from the ELB
            S("TargetConnectionErrorCount", "Sum", "errors", "up"),
            S("ClientTLSNegotiationErrorCount", "Sum", "errors", "up"),  # handshakes clients could not finish
            S("RejectedConnectionCount", "Sum", "blocked", "up"),
            S("TargetResponseTime", "Average", "latency", "up"),
        ),
        _ALB_DOC,
        match={"id": r"^app/"},
    ),
    # NLB: dimension LoadBalancer = net/name/hash.
    Profile(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS/NetworkELB",
        {"LoadBalancer": "{id}"},
        (
            S("ActiveFlowCount", "Average", "load", "up"),
            S("NewFlowCount", "Sum", "load", "up"),
            S("TCP_Target_Reset_Count", "Sum", "errors", "up"),
            S("TCP_ELB_Reset_Count", "Sum", "errors", "up"),
            S("PortAllocationErrorCount", "Sum", "blocked", "up", limit=1),
        ),
        _NLB_DOC,
        match={"id": r"^net/"},
    ),
    # Target groups: per-group metrics carry both TargetGroup and LoadBalancer dimensions.
    Profile(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS/ApplicationELB",
        {"TargetGroup": "{id}", "LoadBalancer": "{load_balancer}"},
        (
            S("RequestCount", "Sum", "load", "up"),
            S("HTTPCode_Target_5XX_Count", "Sum", "errors", "up"),
            S("TargetResponseTime", "Average", "latency", "up"),
            *_HEALTH,
        ),
        _ALB_DOC,
        match={"load_balancer": r"^app/"},
    ),
    Profile(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS/NetworkELB",
        {"TargetGroup": "{id}", "LoadBalancer": "{load_balancer}"},
        _HEALTH,
        _NLB_DOC,
        match={"load_balancer": r"^net/"},
    ),
    # WAF: web ACL totals are the rule `ALL`; regional ACLs carry Region.
    Profile(
        "AWS::WAFv2::WebACL",
        "AWS/WAFV2",
        {"WebACL": "{id}", "Rule": "ALL", "Region": "{region}"},
        (
            S("AllowedRequests", "Sum", "load", "down"),
            S("BlockedRequests", "Sum", "blocked", "up"),
        ),
        "https://docs.aws.amazon.com/waf/latest/developerguide/waf-metrics.html",
    ),
    # ECS service: ClusterName + ServiceName (the id is cluster/service).
    Profile(
        "AWS::ECS::Service",
        "AWS/ECS",
        {"ClusterName": "{id_head}", "ServiceName": "{id_tail}"},
        (
            S("CPUUtilization", "Maximum", "saturation", "up", limit=100),
            S("MemoryUtilization", "Maximum", "saturation", "up", limit=100),
        ),
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html",
    ),
    Profile(
        "AWS::ECS::Service",
        "ECS/ContainerInsights",
        {"ClusterName": "{id_head}", "ServiceName": "{id_tail}"},
        (S("RunningTaskCount", "Minimum", "health", "down", limit=0),),
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html",
    ),
    Profile(
        "AWS::Lambda::Function",
        "AWS/Lambda",
        {"FunctionName": "{id}"},
        (
            S("Invocations", "Sum", "load", "up"),
            S("Errors", "Sum", "errors", "up"),
            S("Throttles", "Sum", "blocked", "up"),
            S("Duration", "Maximum", "latency", "up", limit_attribute="timeout_ms"),
            S("ConcurrentExecutions", "Maximum", "saturation", "up", limit_attribute="reserved_concurrency"),
        ),
        "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html",
    ),
    # REST APIs are named by ApiName in CloudWatch; 29 s is the integration timeout.
    Profile(
        "AWS::ApiGateway::RestApi",
        "AWS/ApiGateway",
        {"ApiName": "{id}"},
        (
            S("Count", "Sum", "load", "up"),
            S("5XXError", "Sum", "errors", "up"),
            S("4XXError", "Sum", "errors", "up"),
            S("Latency", "Average", "latency", "up"),
            S("IntegrationLatency", "Maximum", "latency", "up", limit=29000),
        ),
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html",
    ),
    Profile(
        "AWS::CloudFront::Distribution",
        "AWS/CloudFront",
        {"DistributionId": "{id}", "Region": "Global"},
        (
            S("Requests", "Sum", "load", "up"),
            S("5xxErrorRate", "Average", "errors", "up", limit=100),
            S("4xxErrorRate", "Average", "errors", "up", limit=100),
        ),
        "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/programming-cloudwatch-metrics.html",
    ),
)
