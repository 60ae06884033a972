"""Evidence items and root-cause hypotheses (DESIGN.md §3). Evidence ids are content-addressed."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class EvidenceKind(StrEnum):
    METRIC_SHIFT = "metric_shift"
    LOG_SIGNATURE = "log_signature"
    DEPLOY = "deploy"
    CONFIG_CHANGE = "config_change"
    RELATED_ALARM = "related_alarm"
    TICKET = "ticket"
    PAST_INCIDENT = "past_incident"
    GAP = "gap"
    AWS_EVENT = "aws_event"  # an RDS, Health or ECS service event, or a stopped ECS task (investigation.events)
    LOOKED_AT = "looked_at"  # the resources the neighbourhood walk read, and how each was found
    CHANGE_SUMMARY = "change_summary"  # what one commit or pull request changed (a model's lookup)


class Category(StrEnum):
    DEPLOY = "deploy"
    CONFIG_CHANGE = "config_change"
    DEPENDENCY = "dependency"
    TRAFFIC_SURGE = "traffic_surge"
    RESOURCE_EXHAUSTION = "resource_exhaustion"
    CREDENTIAL_EXPIRY = "credential_expiry"
    INFRASTRUCTURE = "infrastructure"
    UNKNOWN = "unknown"


def content_id(kind: str, source: str, entity: str, at: datetime | None, extra: dict[str, Any]) -> str:
    """A stable id from what the evidence says, so re-gathering the same fact yields the same id."""
    body = json.dumps([kind, source, entity, at.isoformat() if at else None, extra], sort_keys=True, default=str)
    return "ev-" + hashlib.sha256(body.encode()).hexdigest()[:16]


class Evidence(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = ""
    kind: EvidenceKind
    source: str
    at: datetime | None = None
    entity: str
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)
    link: str | None = None

    @model_validator(mode="after")
    def _assign_id(self) -> Evidence:
        if not self.id:
            object.__setattr__(self, "id", content_id(self.kind.value, self.source, self.entity, self.at, self.details))
        return self


class Hypothesis(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: Category
    culprit: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    evidence_for: list[str] = Field(default_factory=list)
    evidence_against: list[str] = Field(default_factory=list)
    features: dict[str, float] = Field(default_factory=dict)
    summary: str = ""
