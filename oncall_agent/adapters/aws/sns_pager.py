"""Pages through an SNS topic (ports.Pager): PagerDuty, Opsgenie, chat and email subscribe to SNS, so one publish
reaches whichever the organisation uses. The message is JSON with a `dedup_key` (the outbox key) so a relay
retry after a lost answer pages once where the receiver deduplicates (PagerDuty and Opsgenie do); a FIFO topic
deduplicates by itself through `MessageDeduplicationId`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

SUBJECT_MAX = 100  # SNS refuses longer subjects


class SnsPager:
    def __init__(self, client_for_region: Callable[[str], Any], topic_arn: str) -> None:
        parts = topic_arn.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", parts[1], "sns"] or not parts[3]:
            raise ValueError(f"not an SNS topic ARN: {topic_arn!r}")
        self._client = client_for_region(parts[3])
        self._topic_arn = topic_arn

    def page(self, subject: str, message: Mapping[str, Any], key: str) -> str:
        """Publish `message` (plus `dedup_key`); returns the SNS message id."""
        body = json.dumps({**message, "dedup_key": key}, sort_keys=True, default=str)
        options: dict[str, Any] = {}
        if self._topic_arn.endswith(".fifo"):
            options["MessageGroupId"] = str(message.get("incident_id") or "oncall-agent")
            options["MessageDeduplicationId"] = hashlib.sha256(key.encode()).hexdigest()
        clean = " ".join(subject.split())[:SUBJECT_MAX] or "oncall-agent"
        answer = self._client.publish(TopicArn=self._topic_arn, Subject=clean, Message=body, **options)
        return str(answer["MessageId"])
