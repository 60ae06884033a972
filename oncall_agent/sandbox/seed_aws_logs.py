"""Seed a scenario's log groups, streams and lines into moto with PutLogEvents, in legal batches."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from oncall_agent.sandbox.generate import log_lines
from oncall_agent.sandbox.scenario import Scenario

LOG_BATCH_EVENTS = 10_000  # PutLogEvents: at most 10,000 events,
LOG_BATCH_BYTES = 1_000_000  # about 1 MiB (each event counts its UTF-8 size + 26 bytes),
LOG_BATCH_SPAN_MS = 24 * 3600 * 1000 - 1  # and less than 24 hours between first and last event


def _log_batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = []
    size = 0
    for event in events:
        event_size = len(event["message"].encode()) + 26
        current = batches[-1] if batches else None
        if (
            current is None
            or len(current) >= LOG_BATCH_EVENTS
            or size + event_size > LOG_BATCH_BYTES
            or event["timestamp"] - current[0]["timestamp"] > LOG_BATCH_SPAN_MS
        ):
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += event_size
    return batches


def seed_logs(scenario: Scenario, now: datetime, logs: Any, summary: Any) -> None:
    """Every catalog log group, plus each `logs` entry's stream and events (sorted, in legal batches)."""
    groups = [group for service in scenario.services for group in service.log_groups]
    groups += [spec.group for spec in scenario.logs]
    for group in dict.fromkeys(groups):
        logs.create_log_group(logGroupName=group)
        summary.log_groups += 1
    streams: set[tuple[str, str]] = set()
    for index, spec in enumerate(scenario.logs):
        seed = f"{scenario.id}:logs:{index}"
        stream = spec.stream or f"{spec.group.rstrip('/').rsplit('/', 1)[-1]}/{short_id(seed)}"
        if (spec.group, stream) not in streams:
            logs.create_log_stream(logGroupName=spec.group, logStreamName=stream)
            streams.add((spec.group, stream))
        events = [{"timestamp": int(at.timestamp() * 1000), "message": text} for at, text in log_lines(spec, now, seed)]
        for batch in _log_batches(events):
            logs.put_log_events(logGroupName=spec.group, logStreamName=stream, logEvents=batch)
        summary.log_events += len(events)


def short_id(seed: str) -> str:
    """A short stable hex id for default stream names (like the task id ending an ECS stream name)."""
    return hashlib.sha256(seed.encode()).hexdigest()[:12]
