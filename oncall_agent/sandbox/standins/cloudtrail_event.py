"""One CloudTrail management event as the stand-in stores it, and its two wire shapes: the `Events[]` member
of a LookupEvents answer and the CloudTrail record carried (as a JSON string) in `CloudTrailEvent`."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class CtEvent:
    event_id: str
    event_name: str
    event_source: str
    at: datetime
    username: str
    resources: list[dict[str, str]]
    request_parameters: dict[str, Any]
    read_only: bool
    access_key_id: str
    aws_region: str
    account: str
    response_elements: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def attribute(self, key: str) -> list[str]:
        """The values a lookup attribute is compared with (exact, case-sensitive, as on AWS)."""
        simple = {
            "EventId": self.event_id,
            "EventName": self.event_name,
            "Username": self.username,
            "EventSource": self.event_source,
            "AccessKeyId": self.access_key_id,
            "ReadOnly": "true" if self.read_only else "false",
        }
        if key in simple:
            return [simple[key]]
        name = "ResourceType" if key == "ResourceType" else "ResourceName"
        return [resource.get(name, "") for resource in self.resources]

    def record(self) -> dict[str, Any]:
        """The CloudTrail record (what `CloudTrailEvent` carries as a JSON string)."""
        principal = "AIDA" + hashlib.sha256(self.username.encode()).hexdigest()[:17].upper()
        return {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": principal,
                "arn": f"arn:aws:iam::{self.account}:user/{self.username}",
                "accountId": self.account,
                "accessKeyId": self.access_key_id,
                "userName": self.username,
            },
            "eventTime": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": self.event_source,
            "eventName": self.event_name,
            "awsRegion": self.aws_region,
            "sourceIPAddress": "198.51.100.23",
            "userAgent": "aws-cli/2.17.0 md/Botocore#1.35.0",
            "requestParameters": self.request_parameters,
            "responseElements": self.response_elements,
            "requestID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"request:{self.event_id}")),
            "eventID": self.event_id,
            "readOnly": self.read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": self.account,
            "eventCategory": "Management",
            **self.extra,
        }

    def wire(self) -> dict[str, Any]:
        """The `Events[]` member of a LookupEvents answer."""
        return {
            "EventId": self.event_id,
            "EventName": self.event_name,
            "ReadOnly": "true" if self.read_only else "false",
            "AccessKeyId": self.access_key_id,
            "EventTime": self.at.timestamp(),
            "EventSource": self.event_source,
            "Username": self.username,
            "Resources": [dict(resource) for resource in self.resources],
            "CloudTrailEvent": json.dumps(self.record(), separators=(",", ":")),
        }
