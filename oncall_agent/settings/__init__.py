"""Settings: the only module that reads the YAML config file and `ONCALL_*` environment variables (the sections
are plain models in this package's modules, one per area: aws, intake, integrations, approvals, console, mcp).

Precedence: environment (`ONCALL_SECTION__FIELD`, e.g. `ONCALL_STORE__URL`) over the YAML file over defaults.
Every section forbids unknown keys so a typo is an error, not a silently ignored setting. Secrets are
`SecretStr`: they print as `**********` and are never logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from oncall_agent.domain.catalog import Service
from oncall_agent.domain.errors import ConfigError
from oncall_agent.settings.actions import ActionRoleSettings
from oncall_agent.settings.approvals import ApprovalSettings, ApproverSettings, EscalationSettings
from oncall_agent.settings.aws import AwsCredentials, AwsSettings
from oncall_agent.settings.console import LOOPBACK_HOSTS, ConsoleSettings, LoggingSettings, OidcSettings
from oncall_agent.settings.intake import (
    EventBridgeIntakeSettings,
    HttpSettings,
    IntakeSettings,
    SnsIntakeSettings,
    StoreSettings,
)
from oncall_agent.settings.integrations import (
    GitHubSettings,
    IntegrationSettings,
    InvestigationSettings,
    LeaseSettings,
    ServiceNowSettings,
)
from oncall_agent.settings.llm import LlmSettings, ModelPrice
from oncall_agent.settings.mcp import McpSettings
from oncall_agent.settings.telemetry import TelemetrySettings

DEFAULT_CONFIG_PATH = Path("oncall-agent.yaml")


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
    actions: ActionRoleSettings = Field(default_factory=ActionRoleSettings)
    leases: LeaseSettings = Field(default_factory=LeaseSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)

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

    @model_validator(mode="after")
    def _cookies_secure_off_loopback(self) -> Settings:
        if self.console.enabled and not self.console.secure_cookies and self.http.host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"console.secure_cookies may be false only when http.host is a loopback address, not {self.http.host}"
            )
        return self

    @model_validator(mode="after")
    def _console_maps_to_approvers(self) -> Settings:
        oidc = self.console.oidc
        known = set(self.approvals.approvers) | set(self.approvals.tokens)
        mapped = {*oidc.approvers_by_email.values(), *oidc.approvers_by_group.values()}
        unknown = sorted(mapped - known)
        if oidc.enabled and unknown:
            raise ValueError(f"console.oidc maps to approvers not in approvals.approvers: {', '.join(unknown)}")
        return self


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


__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ActionRoleSettings",
    "ApprovalSettings",
    "ApproverSettings",
    "AwsCredentials",
    "AwsSettings",
    "ConsoleSettings",
    "EscalationSettings",
    "EventBridgeIntakeSettings",
    "GitHubSettings",
    "HttpSettings",
    "IntakeSettings",
    "IntegrationSettings",
    "InvestigationSettings",
    "LeaseSettings",
    "LlmSettings",
    "LoggingSettings",
    "McpSettings",
    "ModelPrice",
    "OidcSettings",
    "ServiceNowSettings",
    "Settings",
    "SnsIntakeSettings",
    "StoreSettings",
    "TelemetrySettings",
    "format_validation_error",
    "load_settings",
]
