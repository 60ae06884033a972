"""Settings: the only module that reads the YAML config file and `ONCALL_*` environment variables.

Precedence: environment (`ONCALL_SECTION__FIELD`, e.g. `ONCALL_STORE__URL`) over the YAML file over defaults.
Every section forbids unknown keys so a typo is an error, not a silently ignored setting. Secrets are
`SecretStr`: they print as `**********` and are never logged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from oncall_agent.domain.alarm import AlarmState
from oncall_agent.domain.catalog import Service
from oncall_agent.domain.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("oncall-agent.yaml")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_TOPIC_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


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

    @field_validator("regions")
    @classmethod
    def _regions(cls, regions: list[str]) -> list[str]:
        bad = [r for r in regions if not _REGION.match(r)]
        if bad:
            raise ValueError(f"not an AWS region name: {', '.join(bad)}")
        return regions


class SnsIntakeSettings(Section):
    allowed_topic_arns: list[str] = Field(default_factory=list)
    confirm_subscriptions: bool = True
    # The sandbox seam: official certificate URL -> where to read that certificate (file:// or loopback http).
    # The message's SigningCertURL must still pass every URL rule; this only says where its PEM lives.
    certificate_sources: dict[str, str] = Field(default_factory=dict)

    @field_validator("allowed_topic_arns")
    @classmethod
    def _arns(cls, arns: list[str]) -> list[str]:
        bad = [a for a in arns if not _TOPIC_ARN.match(a)]
        if bad:
            raise ValueError(f"not an SNS topic ARN: {', '.join(bad)}")
        return arns


class EventBridgeIntakeSettings(Section):
    secret: SecretStr | None = None
    header: str = "x-oncall-agent-secret"


class IntakeSettings(Section):
    sns: SnsIntakeSettings = Field(default_factory=SnsIntakeSettings)
    eventbridge: EventBridgeIntakeSettings = Field(default_factory=EventBridgeIntakeSettings)
    max_body_bytes: int = Field(default=256 * 1024 + 16 * 1024, ge=1024, le=10 * 1024 * 1024)
    grouping_window_seconds: float = Field(default=600.0, ge=0, le=86400)
    grouping_interval_seconds: float = Field(default=0.5, gt=0, le=60)


class HttpSettings(Section):
    host: str = "0.0.0.0"  # noqa: S104 - a container listens on all interfaces behind the ALB
    port: int = Field(default=8080, ge=0, le=65535)


class StoreSettings(Section):
    url: str = "sqlite:///data/oncall-agent.db"
    # How long a write waits for a lock before failing; intake then answers 503 and SNS retries.
    lock_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite:///, postgresql:// or postgresql+psycopg://")
        return url


class ServiceNowSettings(Section):
    url: str
    user: str
    password: SecretStr


class GitHubSettings(Section):
    url: str = "https://api.github.com"
    token: SecretStr
    repo: str | None = Field(default=None, pattern=r"^[\w.-]+/[\w.-]+$")


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
    lease_seconds: float = Field(default=120, ge=5)
    runbooks_dir: str | None = None  # default: the runbooks shipped with the package


class ApprovalSettings(Section):
    # Bearer token per approver for the HTTP API (the ALB OIDC console comes later). name -> token.
    tokens: dict[str, SecretStr] = Field(default_factory=dict)


class LoggingSettings(Section):
    level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    json_output: bool = Field(default=True, alias="json")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ONCALL_", env_nested_delimiter="__", extra="forbid", populate_by_name=True
    )

    aws: AwsSettings = Field(default_factory=AwsSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    services: list[Service] = Field(default_factory=list)
    integrations: IntegrationSettings = Field(default_factory=IntegrationSettings)
    investigation: InvestigationSettings = Field(default_factory=InvestigationSettings)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init kwargs; the environment must win over it.
        return env_settings, init_settings

    @field_validator("services")
    @classmethod
    def _catalog(cls, services: list[Service]) -> list[Service]:
        names = [s.name for s in services]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate service names: {', '.join(dupes)}")
        # depends_on may name what the agent does not watch (a database, a third-party API): not an error.
        return services


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}:{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, not {type(data).__name__}")
    return data


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem: `source: section.field: what is wrong`."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"{source}: {where}: {error['msg']}")
    return "\n".join(lines)


def load_settings(path: Path | None = None, *, required: bool = False) -> Settings:
    """Load settings from `path` (default `oncall-agent.yaml` if it exists) plus the environment.

    Raises ConfigError with one line per problem.
    """
    chosen = path or DEFAULT_CONFIG_PATH
    data: dict[str, Any] = {}
    if chosen.exists():
        data = _read_yaml(chosen)
    elif path is not None or required:
        raise ConfigError(f"{chosen}: config file not found")
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(chosen))) from exc
