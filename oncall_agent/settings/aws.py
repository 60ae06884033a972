"""Settings: AWS regions, endpoints (the sandbox's), sandbox credentials and the DescribeAlarms poller."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from oncall_agent.domain.alarm import AlarmState
from oncall_agent.settings.base import REGION, Section


class AwsCredentials(Section):
    """Static credentials: only for the sandbox. In AWS the task role (or STS) is used instead."""

    access_key_id: SecretStr
    secret_access_key: SecretStr


class AwsSettings(Section):
    regions: list[str] = Field(default_factory=lambda: ["us-east-1"], min_length=1)
    endpoint_url: str | None = None
    # Per-service overrides of endpoint_url (e.g. `cloudtrail` -> the sandbox's LookupEvents stand-in).
    service_endpoints: dict[str, str] = Field(default_factory=dict)
    credentials: AwsCredentials | None = None
    poll_enabled: bool = True
    poll_interval_seconds: float = Field(default=60.0, ge=0.2, le=3600)
    alarm_name_prefixes: list[str] = Field(default_factory=list)
    alarm_states: list[AlarmState] = Field(default_factory=lambda: list(AlarmState))
    # Read rates shared by all replicas through the store (DESIGN.md §9): on against AWS, off against a sandbox
    # endpoint unless set. The agent takes `quota_share` of each documented quota; `quotas` overrides them
    # (`cloudtrail.LookupEvents: 2`, calls per second).
    shared_rate_limits: bool | None = None
    quota_share: float = Field(default=0.5, gt=0, le=1)
    quotas: dict[str, float] = Field(default_factory=dict)
    rate_max_wait_seconds: float = Field(default=10.0, ge=0, le=120)

    @property
    def rate_limited(self) -> bool:
        return self.shared_rate_limits if self.shared_rate_limits is not None else self.endpoint_url is None

    @field_validator("regions")
    @classmethod
    def _regions(cls, regions: list[str]) -> list[str]:
        bad = [r for r in regions if not REGION.match(r)]
        if bad:
            raise ValueError(f"not an AWS region name: {', '.join(bad)}")
        return regions
