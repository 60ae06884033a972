"""Wiring of the action executors (ECS, Lambda, CodeDeploy) and the credentials they act with.

With `actions.role_arn` or `actions.roles_by_account` set, every execution assumes the action role of the target's
account (the catalog names a service's account) for that one action; the task's own credentials only read.
Without them (the sandbox), actions run with the task's own credentials, and start-up says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from oncall_agent.adapters.aws.action_role import ActionRoleClients
from oncall_agent.adapters.aws.clients import make_client
from oncall_agent.adapters.aws.codedeploy_actions import CodeDeployActionExecutor
from oncall_agent.adapters.aws.ecs_actions import EcsActionExecutor
from oncall_agent.adapters.aws.lambda_actions import LambdaActionExecutor
from oncall_agent.domain.action import ProposedAction
from oncall_agent.ports import ActionExecutor, IncidentStore
from oncall_agent.settings import Settings

log = structlog.get_logger(__name__)

# service -> (region -> client), as bootstrap.aws_client_factory builds them
ClientFactory = Callable[[str], Callable[[str], Any]]


def account_resolver(settings: Settings, store: IncidentStore) -> Callable[[ProposedAction], str | None]:
    """The account of the service whose incident proposed the action (None: the agent's own account)."""
    accounts = {service.name: service.account for service in settings.services}

    def account_of(action: ProposedAction) -> str | None:
        incident = store.get_incident(action.incident_id)
        return accounts.get(incident.service) if incident is not None else None

    return account_of


def acting_clients(settings: Settings, store: IncidentStore, client: ClientFactory) -> ActionRoleClients | None:
    roles = settings.actions
    if not roles.enabled:
        if settings.aws.endpoint_url is None:
            log.warning("actions_use_task_credentials", reason="actions.role_arn is not set")
        return None
    sts = client("sts")

    def make(service: str, region: str, key: str, secret: str, token: str) -> Any:
        endpoint = settings.aws.service_endpoints.get(service, settings.aws.endpoint_url)
        return make_client(
            service,
            region,
            endpoint,
            access_key_id=key,
            secret_access_key=secret,
            session_token=token,
            app_id="oncall-agent-action",
        )

    return ActionRoleClients(
        sts,
        make,
        default_role=roles.role_arn,
        roles_by_account=roles.roles_by_account,
        account_of=account_resolver(settings, store),
        session_seconds=roles.session_seconds,
        external_id=roles.external_id,
    )


def executors(settings: Settings, store: IncidentStore, client: ClientFactory) -> dict[str, ActionExecutor]:
    region = settings.aws.regions[0]
    acting = acting_clients(settings, store, client)
    built: list[ActionExecutor] = [
        EcsActionExecutor(client("ecs"), region, acting),
        LambdaActionExecutor(client("lambda"), region, acting),
        CodeDeployActionExecutor(client("codedeploy"), region, acting),
    ]
    return {kind: executor for executor in built for kind in executor.kinds()}
