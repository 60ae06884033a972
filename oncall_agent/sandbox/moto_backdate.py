"""Give moto's in-process state the scenario's past: alarm state times, finished deployments, their ids.

moto stamps everything with the moment of the API call, leaves every rollout "in progress" and invents its
own CodeDeploy deployment ids, and no API can say otherwise. When the moto server runs in this process
(`ThreadedMotoServer`, as in demo, tests and eval) the sandbox adjusts moto's backend objects directly, as
STACK-NOTES suggests for what moto lacks. Against a moto server in another process the objects are not here:
each function then changes nothing and returns False, and the scenario is seeded with moto's own times.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from oncall_agent.domain.time import as_utc


def _naive(moment: datetime) -> datetime:
    # moto keeps naive UTC datetimes internally.
    return as_utc(moment).replace(tzinfo=None)


def moto_backend(module: str, name: str, account: str, region: str) -> Any:
    """moto's backend object of one service for (account, region), or None when moto is not in this process."""
    try:
        models = __import__(f"moto.{module}.models", fromlist=[name])
    except ImportError:  # the sandbox extra is not installed: nothing in-process to adjust
        return None
    return getattr(models, name)[account][region]


def backdate_alarm_state(account: str, region: str, alarm_name: str, since: datetime) -> bool:
    """Make the alarm's current state date from `since` (CloudWatch's StateUpdatedTimestamp)."""
    backend = moto_backend("cloudwatch", "cloudwatch_backends", account, region)
    alarm = None if backend is None else backend.alarms.get(alarm_name)
    if alarm is None:
        return False
    alarm.state_updated_timestamp = _naive(since)
    return True


def finish_codedeploy_deployment(account: str, region: str, moto_id: str, deployment_id: str, at: datetime) -> bool:
    """Give a deployment moto created the scenario's id, and make it a success that started at `at`."""
    backend = moto_backend("codedeploy", "codedeploy_backends", account, region)
    deployment = None if backend is None else backend.deployments.pop(moto_id, None)
    if deployment is None:
        return False
    deployment.deployment_id = deployment_id
    deployment.status = "Succeeded"
    deployment.create_time = _naive(at)
    deployment.start_time = _naive(at + timedelta(seconds=5))
    deployment.complete_time = _naive(at + timedelta(minutes=4))
    succeeded = max(1, sum(deployment.deployment_overview.values()))
    deployment.deployment_overview = {
        **dict.fromkeys(deployment.deployment_overview, 0),
        "Succeeded": succeeded,
    }
    backend.deployments[deployment_id] = deployment
    return True


def finish_ecs_rollout(account: str, region: str, cluster: str, service: str, at: datetime) -> bool:
    """Mark the service's (only) deployment as a completed rollout started at `at`, tasks running.

    moto never changes `deployments` after create_service and runs no tasks; a rollout that finished minutes
    ago on real ECS looks like this, with the two events ECS writes when it does.
    """
    backend = moto_backend("ecs", "ecs_backends", account, region)
    found = None if backend is None else backend.services.get(f"{cluster}:{service}")
    if found is None or not found.deployments:
        return False
    started, steady = _naive(at), _naive(at + timedelta(minutes=3))
    found.running_count, found.pending_count = found.desired_count, 0
    deployment = found.deployments[0]
    deployment.update(
        createdAt=started,
        updatedAt=steady,
        runningCount=found.desired_count,
        pendingCount=0,
        rolloutState="COMPLETED",
        rolloutStateReason=f"ECS deployment {deployment['id']} completed.",
    )
    messages = [
        f"(service {service}) (deployment {deployment['id']}) deployment completed.",
        f"(service {service}) has reached a steady state.",
    ]
    found.events = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{deployment['id']}:{text}")),
            "createdAt": steady,
            "message": text,
        }
        for text in messages
    ]
    return True
