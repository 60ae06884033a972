"""Settings: the web console, its ALB OIDC sign-in and logging."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, model_validator

from oncall_agent.settings.base import Section

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_ALB_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/app/[^/]+/[^/]+$")


class OidcSettings(Section):
    """Sign-in behind an ALB listener rule with `authenticate-oidc`: the ALB signs the user's claims (ES256) in
    `x-amzn-oidc-data`; the console trusts them only when signed by `alb_arn` with a key from `public_key_url`."""

    enabled: bool = False
    # The ALB that signs (`signer` in the token header); a token from any other load balancer is refused.
    alb_arn: str = ""
    region: str = "us-east-1"
    # `{region}` and `{kid}` are filled in; point it at a local server to use a test key (sandbox, tests).
    public_key_url: str = "https://public-keys.auth.elb.{region}.amazonaws.com/{kid}"
    email_claim: str = "email"
    groups_claim: str = "groups"
    # IdP email -> approver name (a key of approvals.approvers): who the person decides as.
    approvers_by_email: dict[str, str] = Field(default_factory=dict)
    # IdP group (in `groups_claim`) -> approver name, for people without an email entry (first match wins).
    approvers_by_group: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> OidcSettings:
        if self.enabled and not _ALB_ARN.match(self.alb_arn):
            raise ValueError(f"alb_arn must be an application load balancer ARN, not {self.alb_arn!r}")
        if "{kid}" not in self.public_key_url:
            raise ValueError("public_key_url must contain {kid}")
        self.approvers_by_email = {email.lower(): name for email, name in self.approvers_by_email.items()}
        return self


class ConsoleSettings(Section):
    enabled: bool = True
    # Where people open the console; tickets link `<base_url>/incidents/<id>`. None: no links.
    base_url: str | None = Field(default=None, pattern=r"^https?://[^\s<>\"'`()\[\]{}|\\^]+$")
    # Signs the session cookie and CSRF tokens; set it (the same on every replica) or sessions end at restart.
    session_secret: SecretStr | None = None
    session_minutes: int = Field(default=720, ge=5, le=7 * 24 * 60)
    # `false` only for plain http on a loopback address (the sandbox): browsers drop Secure cookies over http.
    secure_cookies: bool = True
    # Sign in with an approver token (approvals.approvers.*.token / approvals.tokens): sandbox, small setups.
    local_sign_in: bool = True
    # Origins accepted on form posts besides the request's own (e.g. https://oncall.example.com behind the ALB).
    origins: list[str] = Field(default_factory=list)
    oidc: OidcSettings = Field(default_factory=OidcSettings)


class LoggingSettings(Section):
    level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    json_output: bool = Field(default=True, alias="json")
