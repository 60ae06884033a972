"""What the AWS action executors (ECS, Lambda, CodeDeploy) share: the read client for their region (dry runs),
built on first use, and the client an execution acts with (from the action role assumed for that one approval,
when one is configured); `Infeasible`, the reason a dry run cannot succeed; and how dry-run outcomes map to an
infeasible ActionPlan or to the executor's own failure error."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ClassVar, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from oncall_agent.domain.action import ProposedAction
from oncall_agent.domain.errors import SourceError
from oncall_agent.ports import ActionPlan

AWS_ERRORS = (BotoCoreError, ClientError)


class Infeasible(Exception):
    """Why a dry run cannot succeed: an infeasible ActionPlan from `plan`, the executor's failure in `execute`."""


def text_parameter(parameters: dict[str, Any], name: str) -> str:
    value = parameters.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Infeasible(f"parameter {name!r} must be a non-empty string")
    return value.strip()


def unsupported(action: ProposedAction, kinds: frozenset[str]) -> Infeasible:
    return Infeasible(f"unsupported action kind {action.kind!r} (supported: {', '.join(sorted(kinds))})")


class ActingClients(Protocol):
    """The client one approved action acts with (adapters.aws.action_role.ActionRoleClients)."""

    def client(self, service: str, region: str, action: ProposedAction) -> Any: ...


class RegionExecutor:
    """Base of an executor in one region. `client_for_region(region)` builds its read client once (dry runs);
    with `acting`, `execute` runs with a client made for that one action (the action role) and never with the
    read client. Subclasses name their AWS service (`SERVICE`), the error their failures raise (`failure`), the
    kinds they execute (`KINDS`), and implement `_execute`."""

    SERVICE: ClassVar[str]
    failure: ClassVar[type[SourceError]]
    KINDS: ClassVar[frozenset[str]]

    def __init__(
        self, client_for_region: Callable[[str], Any], region: str, acting: ActingClients | None = None
    ) -> None:
        self._client_for_region = client_for_region
        self._region = region
        self._acting = acting
        self._built: Any = None
        self._lock = threading.Lock()
        # Per thread of execution: workers share one executor, each running its own action.
        self._acting_client: ContextVar[Any] = ContextVar(f"{type(self).__name__}-acting", default=None)

    def kinds(self) -> frozenset[str]:
        return self.KINDS

    def execute(self, action: ProposedAction, idempotency_key: str) -> dict[str, Any]:
        if self._acting is None:
            return self._execute(action, idempotency_key)
        client = self._acting.client(self.SERVICE, self._region, action)
        token = self._acting_client.set(client)
        try:
            return self._execute(action, idempotency_key)
        finally:
            self._acting_client.reset(token)

    def _execute(self, action: ProposedAction, idempotency_key: str) -> dict[str, Any]:
        raise NotImplementedError

    def _client(self) -> Any:
        acting = self._acting_client.get()
        if acting is not None:
            return acting
        with self._lock:
            if self._built is None:
                self._built = self._client_for_region(self._region)
            return self._built

    def _dry_run(self, action: ProposedAction, plan: Callable[[], ActionPlan]) -> ActionPlan:
        """`plan()`; Infeasible becomes an infeasible plan, AWS errors other than "not found" the failure."""
        try:
            return plan()
        except Infeasible as exc:
            return ActionPlan(feasible=False, summary=str(exc), before={}, after={})
        except AWS_ERRORS as exc:
            raise self.failure(f"{action.kind}: dry run failed: {exc}") from exc

    def _failed(self, action: ProposedAction, exc: Exception) -> SourceError:
        return self.failure(f"{action.kind}: {exc}")


def error_code(exc: Exception) -> str:
    """The AWS error code of a ClientError (`ResourceNotFoundException`, ...), else ''."""
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""
