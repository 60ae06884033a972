"""AWS's own event feeds in moto's in-process backends: ECS service events, stopped ECS tasks, RDS events.

No API writes these on AWS (ECS and RDS do), and moto keeps ECS `events` empty, runs no tasks of a service,
and records RDS events only for its own actions, stamped with the moment of the call. When the moto server
runs in this process (as in demo, tests and eval) the sandbox adds the scenario's events to the backend
objects, and `install()` makes two reads answer as AWS does: ListTasks honours `serviceName`, and RDS
DescribeEvents honours StartTime/EndTime/Duration (default: the last hour) and EventCategories. Without moto
in this process every function returns False and nothing changes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from oncall_agent.domain.time import as_utc
from oncall_agent.sandbox.moto_backdate import moto_backend

_MARKER = "_oncall_agent_events"
_lock = threading.Lock()
DEFAULT_RDS_WINDOW = timedelta(hours=1)  # DescribeEvents without a time range returns the past hour


def _naive(moment: datetime) -> datetime:
    return as_utc(moment).replace(tzinfo=None)


def add_ecs_service_events(
    account: str, region: str, cluster: str, service: str, events: list[tuple[datetime, str]]
) -> bool:
    """Add (time, message) events to the service; DescribeServices lists them newest first, as ECS does."""
    backend = moto_backend("ecs", "ecs_backends", account, region)
    found = None if backend is None else backend.services.get(f"{cluster}:{service}")
    if found is None:
        return False
    added = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{cluster}/{service}:{at}:{text}")),
            "createdAt": _naive(at),
            "message": text,
        }
        for at, text in events
    ]
    found.events = sorted([*found.events, *added], key=lambda event: event["createdAt"], reverse=True)
    return True


@dataclass(frozen=True)
class StoppedTask:
    cluster: str
    service: str
    task_definition_arn: str
    stopped_at: datetime
    reason: str
    exit_code: int | None
    availability_zone: str


def add_stopped_task(account: str, region: str, task: StoppedTask) -> str | None:
    """Create a STOPPED task of the service (ListTasks desiredStatus=STOPPED, DescribeTasks); its ARN."""
    backend = moto_backend("ecs", "ecs_backends", account, region)
    if backend is None or not install():
        return None
    from moto.ecs.models import Task

    cluster = backend.clusters[task.cluster]
    definition = backend.describe_task_definition(task.task_definition_arn)
    found: Any = Task(cluster, definition, None, None, backend, group=f"service:{task.service}", launch_type="FARGATE")
    found.started_by = f"ecs-svc/{uuid.uuid5(uuid.NAMESPACE_URL, task.service).int % 10**19:019d}"
    found.desired_status = "STOPPED"
    found.last_status = "STOPPED"
    found.stopped_reason = task.reason
    found.stop_code = "EssentialContainerExited"
    found.availability_zone = task.availability_zone
    stopped = _naive(task.stopped_at)
    found.created_at, found.started_at = stopped - timedelta(hours=2), stopped - timedelta(hours=2, seconds=-40)
    found.stopping_at, found.execution_stopped_at, found.stopped_at = stopped, stopped, stopped
    for container in found.containers:
        container.last_status = "STOPPED"
        container.exitCode = task.exit_code
        container.reason = task.reason if task.exit_code is None else None
    backend.tasks.setdefault(task.cluster, {})[found.task_arn] = found
    return str(found.task_arn)


@dataclass
class RdsEventRecord:
    """One RDS event as the serializer reads it (the shape of DescribeEvents' `Event`)."""

    source_identifier: str
    source_type: str
    message: str
    event_categories: list[str]
    date: datetime
    source_arn: str


def backdate_rds_events(account: str, region: str, created: datetime) -> bool:
    """Move moto's own RDS events (creations, stamped at seeding) back to `created`."""
    backend = moto_backend("rds", "rds_backends", account, region)
    if backend is None or not install():
        return False
    for event in backend.events:
        if not isinstance(event, RdsEventRecord):
            event.date = _naive(created)
    return True


def add_rds_event(account: str, region: str, record: RdsEventRecord, created: datetime) -> bool:
    """Add a scenario RDS event, after moving moto's own events back to `created`."""
    if not backdate_rds_events(account, region, created):
        return False
    backend = moto_backend("rds", "rds_backends", account, region)
    backend.events.append(RdsEventRecord(**{**record.__dict__, "date": _naive(record.date)}))
    return True


def _moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _naive(value)
    text = str(value)
    if text.replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(text), tz=None).astimezone().replace(tzinfo=None)
    return _naive(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _rds_window(kwargs: dict[str, Any]) -> tuple[datetime, datetime]:
    from moto.core.utils import utcnow

    start, end = _moment(kwargs.get("start_time")), _moment(kwargs.get("end_time"))
    duration = kwargs.get("duration")
    end = end or utcnow()
    if start is None:
        start = end - (timedelta(minutes=int(duration)) if duration else DEFAULT_RDS_WINDOW)
    return start, end


def _describe_events(original: Callable[..., Any]) -> Callable[..., Any]:
    def describe_events(self: Any, **params: Any) -> Any:
        from botocore import xform_name

        kwargs = {xform_name(key): value for key, value in params.items()}
        source = {key: kwargs.get(key) for key in ("source_identifier", "source_type")}
        events = original(self, **source)
        start, end = _rds_window(kwargs)
        wanted = set(kwargs.get("event_categories") or [])
        return [e for e in events if start <= e.date <= end and (not wanted or wanted & set(e.event_categories))]

    setattr(describe_events, _MARKER, True)
    return describe_events


def _list_tasks(original: Callable[..., Any]) -> Callable[..., Any]:
    def list_tasks(
        self: Any,
        cluster_str: str | None = None,
        container_instance: str | None = None,
        family: str | None = None,
        started_by: str | None = None,
        service_name: str | None = None,
        desiredStatus: str | None = None,  # noqa: N803 - moto's own parameter name
    ) -> Any:
        tasks = original(self, cluster_str, container_instance, family, started_by, service_name, desiredStatus)
        if not service_name:
            return tasks
        name = service_name.rsplit("/", 1)[-1]  # a name or a service ARN
        return [task for task in tasks if getattr(task, "group", None) == f"service:{name}"]

    setattr(list_tasks, _MARKER, True)
    return list_tasks


def install() -> bool:
    """Patch RDS DescribeEvents and ECS ListTasks as described above; idempotent. False without moto."""
    try:
        from moto.ecs.models import EC2ContainerServiceBackend
        from moto.rds.models import RDSBackend
    except ImportError:
        return False
    with _lock:
        for cls, name, wrap in (
            (RDSBackend, "describe_events", _describe_events),
            (EC2ContainerServiceBackend, "list_tasks", _list_tasks),
        ):
            current = getattr(cls, name)
            if not getattr(current, _MARKER, False):
                setattr(cls, name, wrap(current))
    return True
