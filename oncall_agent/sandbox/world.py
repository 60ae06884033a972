"""The sandbox world: moto (server mode), the GitHub / ServiceNow / CloudTrail / Health / Bedrock Converse
stand-ins and a control server, seeded from one scenario, plus the agent configuration that points at all of it.

The control server serves the sandbox's SNS signing certificate (the agent trusts it only because the printed
configuration maps the official-looking certificate URL to it) and lets a person fire the scenario's alarms:
`POST /_sandbox/fire` sets the alarm in moto and, with `deliver_to`, delivers it signed as SNS would.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from moto.server import ThreadedMotoServer
from pydantic import BaseModel

from oncall_agent.domain.incident import Resolution
from oncall_agent.sandbox import moto_events, moto_latency, moto_percentiles, moto_resources
from oncall_agent.sandbox.aws_account import DEFAULT_CREDENTIALS, account_client, agent_credentials
from oncall_agent.sandbox.reactor import WorldReactor
from oncall_agent.sandbox.scenario import Scenario, resolve_time
from oncall_agent.sandbox.scenario_targets import account_of
from oncall_agent.sandbox.seed_aws import AwsClients, FiredAlarm, SeedSummary, fire_alarm, seed_aws
from oncall_agent.sandbox.seed_standins import StandinSummary, seed_standins
from oncall_agent.sandbox.sns_delivery import deliver_alarm
from oncall_agent.sandbox.sns_signer import SnsSigner
from oncall_agent.sandbox.standins import (
    BackgroundServer,
    BedrockState,
    CloudTrailState,
    FaultInjector,
    GitHubState,
    HealthState,
    ServiceNowState,
    create_bedrock_app,
    create_cloudtrail_app,
    create_github_app,
    create_health_app,
    create_servicenow_app,
)
from oncall_agent.sandbox.standins.github_webhooks import WebhookSender
from oncall_agent.store.incident_store import SqlIncidentStore

GITHUB_TOKEN = "sandbox-github-token"  # noqa: S105 - a local stand-in's fixed token, not a secret
SERVICENOW_USER = "oncall-agent"
SERVICENOW_PASSWORD = "sandbox-password"  # noqa: S105 - a local stand-in's fixed password
# A person of the ServiceNow stand-in (e.g. who approves change requests in tests), not the agent's account.
SERVICENOW_APPROVER, SERVICENOW_APPROVER_PASSWORD = "cab.manager", "sandbox-cab-password"
EVENTBRIDGE_SECRET = "sandbox-eventbridge-secret"  # noqa: S105 - sandbox only
GITHUB_WEBHOOK_SECRET = "sandbox-github-webhook-secret"  # noqa: S105 - sandbox only
TOPIC_NAME = "oncall-alarms"
CERT_PATH = "/sns/SimpleNotificationService-sandbox.pem"


@dataclass(frozen=True)
class Endpoints:
    aws: str
    github: str
    servicenow: str
    cloudtrail: str
    control: str
    health: str
    bedrock: str


@dataclass(frozen=True)
class Fired:
    alarm: FiredAlarm
    delivered_status: int | None


class FireRequest(BaseModel):
    alarm: str | None = None
    deliver_to: str | None = None


class SandboxWorld:
    """Start, seed, fire, stop. One scenario per world; `stop()` releases every port."""

    def __init__(self, scenario: Scenario, *, latency_ms: int = 0) -> None:
        self.scenario = scenario
        self.signer = SnsSigner()
        self.github = GitHubState()
        self.servicenow = ServiceNowState()
        self.cloudtrail = CloudTrailState()
        self.health = HealthState()
        self.bedrock = BedrockState()  # the scripted model; `bedrock.use(name)` picks the script
        self.faults = {name: FaultInjector() for name in ("github", "servicenow", "cloudtrail", "health", "bedrock")}
        for injector in self.faults.values():
            injector.set_latency(latency_ms)
        self.latency_ms = latency_ms
        self._moto: ThreadedMotoServer | None = None
        self._servers: list[BackgroundServer] = []
        self.endpoints: Endpoints | None = None
        self.topic_arn = ""
        self.seeded_at: datetime | None = None
        self._reactor: WorldReactor | None = None
        self.credentials = DEFAULT_CREDENTIALS

    def start(self, *, reset: bool = True) -> Endpoints:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto_latency.install(0)  # delays and logs each moto call (eval --latency-ms); no delay while seeding
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        moto_percentiles.install()  # GetMetricData with p90/p95/p99: moto 5.2.5 answers 500 otherwise
        moto_events.install()  # ListTasks by service, RDS DescribeEvents by time (format-2 event feeds)
        moto_resources.install()  # GetResources also lists Kinesis, OpenSearch, WAFv2, API Gateway
        host, port = self._moto.get_host_and_port()
        aws = f"http://{host}:{port}"
        # moto's backends are process-wide: a world owns them while it runs (one seeded world per process at a
        # time). `reset=False` only for a world whose moto side is not used.
        if reset:
            requests.post(f"{aws}/moto-api/reset", timeout=10).raise_for_status()
        github = self._serve(create_github_app(self.github, self.faults["github"], GITHUB_TOKEN), "github")
        servicenow = self._serve(
            create_servicenow_app(
                self.servicenow,
                self.faults["servicenow"],
                SERVICENOW_USER,
                SERVICENOW_PASSWORD,
                {SERVICENOW_APPROVER: SERVICENOW_APPROVER_PASSWORD},
            ),
            "servicenow",
        )
        cloudtrail = self._serve(create_cloudtrail_app(self.cloudtrail, self.faults["cloudtrail"]), "cloudtrail")
        health = self._serve(create_health_app(self.health, self.faults["health"]), "health")
        bedrock = self._serve(create_bedrock_app(self.bedrock, self.faults["bedrock"]), "bedrock")
        control = self._serve(self._control_app(), None)
        self.credentials = agent_credentials(aws, self.scenario.region, account_of(self.scenario))
        self.endpoints = Endpoints(aws, github, servicenow, cloudtrail, control, health, bedrock)
        self.topic_arn = self.client("sns").create_topic(Name=TOPIC_NAME)["TopicArn"]
        return self.endpoints

    def start_reacting(self) -> WorldReactor:
        """Let the world react to the agent's actions (after seeding: the culprit must be running first)."""
        self._reactor = WorldReactor(self.scenario, self.client)
        self._reactor.start()
        return self._reactor

    def deliver_github_webhooks(self, url: str, secret: str = GITHUB_WEBHOOK_SECRET) -> WebhookSender:
        """From now on every new issue comment is delivered to `url` as a signed `issue_comment` webhook."""
        assert self.endpoints is not None, "start the world first"
        return WebhookSender(self.github, self.endpoints.github, url, secret)

    def _serve(self, app: FastAPI, fault_key: str | None) -> str:
        server = BackgroundServer(app, faults=self.faults[fault_key] if fault_key else None)
        self._servers.append(server)
        return server.start()

    def client(self, service: str) -> Any:
        assert self.endpoints is not None, "start() the world first"
        return account_client(self.endpoints.aws, service, self.scenario.region, account_of(self.scenario))

    def seed(self, now: datetime | None = None) -> tuple[SeedSummary, StandinSummary]:
        """Seed moto and the stand-ins as of `now` (default: this moment)."""
        assert self.endpoints is not None, "start() the world first"
        moment = now or datetime.now(UTC)
        self.seeded_at = moment
        aws = seed_aws(
            self.scenario,
            moment,
            AwsClients.connect(self.endpoints.aws, self.scenario.region, account_of(self.scenario)),
        )
        standins = seed_standins(
            self.scenario,
            moment,
            github=self.github,
            servicenow=self.servicenow,
            cloudtrail=self.cloudtrail,
            health=self.health,
        )
        moto_latency.set_latency(self.latency_ms)
        return aws, standins

    def seed_history(self, store: SqlIncidentStore) -> int:
        """Put the scenario's past incidents into the agent's memory (idempotent); returns how many."""
        moment = self.seeded_at or datetime.now(UTC)
        for past in self.scenario.history:
            store.record_past_incident(
                service=past.service,
                title=past.title,
                opened_at=resolve_time(past.opened, moment),
                resolution=Resolution(category=past.category, culprit=past.culprit, summary=past.resolution),
            )
        return len(self.scenario.history)

    def fire(self, alarm_name: str | None = None, deliver_to: str | None = None) -> Fired:
        """Put the alarm (default: the scenario's first) into ALARM; with `deliver_to`, POST it signed as SNS."""
        wanted = alarm_name or self.scenario.incident_alarm.name
        spec = next((a for a in self.scenario.alarms if a.name == wanted), None)
        if spec is None:
            raise KeyError(f"scenario {self.scenario.id} has no alarm {wanted!r}")
        cloudwatch = self.client("cloudwatch")
        fired = fire_alarm(cloudwatch, spec)
        status = None
        if deliver_to:
            item = cloudwatch.describe_alarms(AlarmNames=[wanted])["MetricAlarms"][0]
            status = deliver_alarm(self.signer, self.topic_arn, item, deliver_to).status_code
        return Fired(fired, status)

    def certificate_url(self) -> str:
        return self.signer.certificate_url(self.scenario.region)

    def agent_config(self, *, store_url: str, http_port: int, poll_interval_seconds: float = 2.0) -> dict[str, Any]:
        """An `oncall-agent.yaml` (as a dict) that points the agent at this world."""
        assert self.endpoints is not None, "start() the world first"
        ep = self.endpoints
        return {
            "aws": {
                "regions": [self.scenario.region],
                "endpoint_url": ep.aws,
                "service_endpoints": {"cloudtrail": ep.cloudtrail, "health": ep.health},
                "credentials": {
                    "access_key_id": self.credentials.access_key_id,
                    "secret_access_key": self.credentials.secret_access_key,
                },
                "poll_interval_seconds": poll_interval_seconds,
            },
            "intake": {
                "sns": {
                    "allowed_topic_arns": [self.topic_arn],
                    "certificate_sources": {self.certificate_url(): f"{ep.control}{CERT_PATH}"},
                },
                "eventbridge": {"secret": EVENTBRIDGE_SECRET},
            },
            "http": {"host": "127.0.0.1", "port": http_port},
            "store": {"url": store_url},
            "services": [
                s.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
                for s in self.scenario.services
            ],
            "integrations": {
                "github": {"url": ep.github, "token": GITHUB_TOKEN},
                "servicenow": {"url": ep.servicenow, "user": SERVICENOW_USER, "password": SERVICENOW_PASSWORD},
            },
            "escalation": self.escalation_config(),
        }

    def escalation_config(self) -> dict[str, Any]:
        """Who each team of the scenario's catalog is: a ServiceNow group and an on-call login per team."""
        teams = [*sorted({s.tags["team"] for s in self.scenario.services if s.tags.get("team")}), "oncall"]
        return {
            "servicenow_groups": {team: f"{team} on-call" for team in teams},
            "github_assignees": {team: [f"{team}-oncall"] for team in teams},
        }

    def _control_app(self) -> FastAPI:
        app = FastAPI(title="oncall-agent sandbox control", docs_url=None, redoc_url=None)

        @app.get(CERT_PATH)
        def certificate() -> Response:
            return Response(self.signer.certificate_pem, media_type="application/x-pem-file")

        @app.post("/_sandbox/fire")
        def fire(request: FireRequest) -> dict[str, Any]:
            try:
                fired = self.fire(request.alarm, request.deliver_to)
            except KeyError as exc:
                raise HTTPException(404, str(exc)) from exc
            return {
                **asdict(fired.alarm),
                "state_updated": fired.alarm.state_updated.isoformat(),
                "delivered_status": fired.delivered_status,
            }

        return app

    def stop(self) -> None:
        moto_latency.set_latency(0)
        if self._reactor is not None:
            self._reactor.stop()
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
