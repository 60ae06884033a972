"""Local stand-ins that speak the real wire formats: GitHub REST, ServiceNow Table API, CloudTrail LookupEvents,
AWS Health, Amazon Bedrock Runtime Converse (scripted conversations).

Each is a FastAPI app over a thread-safe in-memory state with seeding methods, wrapped in fault injection
(latency, 5xx, 429 with Retry-After, hung requests) and served on loopback by `BackgroundServer`, so the
production clients (PyGithub, requests, boto3) talk to them unchanged:

    state, faults = GitHubState(), FaultInjector()
    server = BackgroundServer(create_github_app(state, faults, token="t"), faults=faults)
    base_url = server.start()
"""

from oncall_agent.sandbox.standins.bedrock import BedrockState, create_bedrock_app
from oncall_agent.sandbox.standins.cloudtrail import CloudTrailState, create_cloudtrail_app
from oncall_agent.sandbox.standins.faults import FaultInjector, FaultMiddleware, FaultRule
from oncall_agent.sandbox.standins.github import GitHubState, create_github_app
from oncall_agent.sandbox.standins.health import HealthEventRecord, HealthState, create_health_app
from oncall_agent.sandbox.standins.server import BackgroundServer
from oncall_agent.sandbox.standins.servicenow import ServiceNowState, create_servicenow_app

__all__ = [
    "BackgroundServer",
    "BedrockState",
    "CloudTrailState",
    "FaultInjector",
    "FaultMiddleware",
    "FaultRule",
    "GitHubState",
    "HealthEventRecord",
    "HealthState",
    "ServiceNowState",
    "create_bedrock_app",
    "create_cloudtrail_app",
    "create_github_app",
    "create_health_app",
    "create_servicenow_app",
]
