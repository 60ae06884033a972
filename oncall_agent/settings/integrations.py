"""Settings: ServiceNow, GitHub, the investigation's budgets and the claim/leader leases."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from oncall_agent.settings.base import Section


class ServiceNowSettings(Section):
    url: str
    user: str
    password: SecretStr


class GitHubSettings(Section):
    url: str = "https://api.github.com"
    token: SecretStr
    repo: str | None = Field(default=None, pattern=r"^[\w.-]+/[\w.-]+$")
    # HMAC secret of the repository webhook that delivers `issue_comment` events (comment approvals).
    # Unset: `POST /webhooks/github` refuses every delivery.
    webhook_secret: SecretStr | None = None


class IntegrationSettings(Section):
    servicenow: ServiceNowSettings | None = None
    github: GitHubSettings | None = None


class InvestigationSettings(Section):
    enabled: bool = True
    workers: int = Field(default=2, ge=1, le=32)
    lookback_minutes: float = Field(default=180, ge=5, le=7 * 24 * 60)
    log_lines_limit: int = Field(default=5000, ge=100, le=10000)
    # Per-source wall-time budget: a slow source becomes a `gap` instead of holding up the others. Sources run in
    # parallel, so this also bounds the whole evidence-gathering step.
    source_timeout_seconds: float = Field(default=20, gt=0, le=300)
    # Per-source API-call budget (every HTTP attempt to AWS, GitHub or ServiceNow, retries included): a source
    # past it keeps what it read and records the cut as a `gap`.
    api_calls_per_source: int = Field(default=100, ge=1, le=10000)
    # Logs Insights bills by bytes scanned: both log queries of one investigation together stop past this.
    log_scan_gb: float = Field(default=10, gt=0, le=1000)
    abstain_below: float = Field(default=0.5, ge=0, le=1)
    verify_timeout_seconds: float = Field(default=300, ge=1, le=3600)
    verify_poll_seconds: float = Field(default=10, gt=0, le=300)
    action_ttl_minutes: float = Field(default=120, ge=1)
    # An incident's claim: renewed every third of it by a heartbeat while its graph runs, so a slow step keeps
    # it and a dead replica's incident is resumed by another within this time (plus the workers' 1 s idle poll).
    lease_seconds: float = Field(default=15, ge=3, le=600)
    runbooks_dir: str | None = None  # default: the runbooks shipped with the package
    # The neighbourhood: the tag whose value names the service a resource belongs to (Resource Groups Tagging
    # API), and how many ListMetrics pages (500 metrics each) are read per golden-signal namespace.
    neighbourhood_tag_key: str = Field(default="service", min_length=1, max_length=128)
    list_metrics_pages: int = Field(default=1, ge=1, le=20)


class LeaseSettings(Section):
    """Leader leases for the jobs that run on one replica at a time (poller, expiry reaper).

    A replica that dies is replaced as leader within ttl + renew (20 s by default)."""

    ttl_seconds: float = Field(default=15, ge=2, le=600)
    renew_seconds: float = Field(default=5, gt=0, le=300)

    @model_validator(mode="after")
    def _renew_within_ttl(self) -> LeaseSettings:
        if self.renew_seconds * 2 > self.ttl_seconds:
            raise ValueError(
                f"renew_seconds ({self.renew_seconds}) must be at most half of ttl_seconds ({self.ttl_seconds})"
            )
        return self
