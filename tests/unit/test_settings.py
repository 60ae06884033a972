"""Settings: YAML + environment precedence, field-by-field errors, secrets never printed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oncall_agent.cli import app
from oncall_agent.domain.errors import ConfigError
from oncall_agent.settings import load_settings

GOOD = """
aws:
  regions: [us-east-1, eu-west-1]
  poll_interval_seconds: 30
intake:
  sns:
    allowed_topic_arns: ["arn:aws:sns:us-east-1:123456789012:alarms"]
  eventbridge:
    secret: s3cr3t-value
store:
  url: sqlite:///tmp/x.db
services:
  - name: checkout
    ecs: {cluster: prod, service: checkout}
    log_groups: [/ecs/prod/checkout]
    depends_on: [payments]
  - name: payments
integrations:
  github: {token: ghp_supersecret}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "oncall-agent.yaml"
    path.write_text(text)
    return path


def test_yaml_is_loaded_with_nested_sections(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD))
    assert settings.aws.regions == ["us-east-1", "eu-west-1"]
    assert settings.services[0].ecs is not None and settings.services[0].ecs.cluster == "prod"
    assert settings.intake.eventbridge.secret is not None
    assert settings.intake.eventbridge.secret.get_secret_value() == "s3cr3t-value"


def test_environment_overrides_one_field_and_keeps_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCALL_AWS__POLL_INTERVAL_SECONDS", "5")
    monkeypatch.setenv("ONCALL_STORE__URL", "postgresql://db.internal/oncall")
    settings = load_settings(write(tmp_path, GOOD))
    assert settings.aws.poll_interval_seconds == 5
    assert settings.aws.regions == ["us-east-1", "eu-west-1"]
    assert settings.store.url == "postgresql://db.internal/oncall"


def test_old_event_age_and_http_limits_have_safe_defaults_and_accept_iso_durations(tmp_path: Path) -> None:
    defaults = load_settings(write(tmp_path, GOOD))
    assert defaults.intake.sns.max_event_age == timedelta(hours=1)
    assert defaults.http.timeout_keep_alive > 60  # above the ALB's default idle timeout
    assert (defaults.http.limit_concurrency, defaults.http.body_timeout_seconds) == (200, 10.0)
    custom = load_settings(write(tmp_path, "intake: {sns: {max_event_age: PT15M}}\nhttp: {body_timeout_seconds: 3}"))
    assert custom.intake.sns.max_event_age == timedelta(minutes=15) and custom.http.body_timeout_seconds == 3


def test_secrets_do_not_appear_in_repr_or_dump(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD))
    assert "s3cr3t-value" not in repr(settings)
    assert "ghp_supersecret" not in settings.model_dump_json()


@pytest.mark.parametrize(
    ("snippet", "field", "problem"),
    [
        ("aws: {regions: [mars-1]}", "aws.regions", "not an AWS region"),
        ("aws: {poll_interval_seconds: -1}", "aws.poll_interval_seconds", "greater than or equal"),
        ("aws: {regoins: [us-east-1]}", "aws.regoins", "Extra inputs are not permitted"),
        ("store: {url: mysql://x}", "store.url", "must start with"),
        (
            "intake: {sns: {allowed_topic_arns: [nope]}}",
            "intake.sns.allowed_topic_arns",
            "not an SNS topic ARN",
        ),
        ("services: [{name: a}, {name: a}]", "services", "duplicate service names: a"),
        ("services: [{name: a, ecs: {cluster: c}}]", "services.0.ecs.service", "Field required"),
        ("leases: {ttl_seconds: 6, renew_seconds: 4}", "leases", "at most half of ttl_seconds"),
        ("approvals: {approvers: {al: {groups: ['two words']}}}", "approvals.approvers.al.groups", "not a group"),
        ("approvals: {approvers: {al: {token: t1}}, tokens: {al: t2}}", "approvals", "both approvers and tokens: al"),
        ("approvals: {approvers: {al: {token: same}}, tokens: {bo: same}}", "approvals", "unique"),
        ("approvals: {approvers: {al: {}}, github_users: {octocat: bo}}", "approvals", "not approvers: bo"),
        ("approvals: {github_min_permission: maintain}", "approvals.github_min_permission", "'read', 'write'"),
        ("approvals: {tokens: {bo: ''}}", "approvals.tokens", "empty token for bo"),
        ("approvals: {github_teams: {storefront: just-a-team}}", "approvals.github_teams", "org/team-slug"),
        ("llm: {provider: openai}", "llm.provider", "'off', 'bedrock' or 'openai_compatible'"),
        ("llm: {region: mars-1}", "llm.region", "not an AWS region name"),
        ("llm: {provider: bedrock, deadline_seconds: 1, connect_timeout_seconds: 3}", "llm", "no call could finish"),
        ("llm: {max_new_hypotheses: 9}", "llm.max_new_hypotheses", "less than or equal to 3"),
        ("llm: {prices: {m: {input_per_million: 1}}}", "llm.prices.m.output_per_million", "Field required"),
    ],
)
def test_each_problem_names_its_field(tmp_path: Path, snippet: str, field: str, problem: str) -> None:
    path = write(tmp_path, snippet)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    lines = str(info.value).splitlines()
    assert any(line.startswith(f"{path}: {field}") and problem in line for line in lines), lines


def test_leases_default_to_a_takeover_well_under_30_seconds(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD))
    assert settings.leases.ttl_seconds + settings.leases.renew_seconds <= 20
    assert settings.investigation.lease_seconds <= 15


def test_approvers_with_groups_and_the_old_token_map_load_together(tmp_path: Path) -> None:
    from oncall_agent.bootstrap_investigation import approver_directory

    text = "approvals:\n  approvers: {alice: {token: t-a, groups: [storefront]}, bob: {}}\n  tokens: {dave: t-d}\n"
    settings = load_settings(write(tmp_path, text))
    directory = approver_directory(settings)
    assert directory.tokens() == {"alice": "t-a", "dave": "t-d"}  # bob decides with the CLI only
    groups = {name: directory.groups_of(name) for name in ("alice", "bob", "dave", "eve")}
    assert groups == {"alice": {"storefront"}, "bob": {"oncall"}, "dave": {"oncall"}, "eve": frozenset()}
    assert "t-a" not in repr(settings) and "t-d" not in settings.model_dump_json()
    wider = load_settings(write(tmp_path, text + "  default_groups: [oncall, sre]\n"))
    assert approver_directory(wider).groups_of("dave") == {"oncall", "sre"}


def test_a_dependency_outside_the_catalog_is_allowed(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "services: [{name: orders-api, depends_on: [orders-db]}]"))
    assert settings.services[0].depends_on == ["orders-db"]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "aws:\n  regions: [us-east-1\nstore: {}\n")
    with pytest.raises(ConfigError, match=r"line \d+ column \d+: not valid YAML"):
        load_settings(path)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.yaml")


def test_config_check_reports_all_problems_as_json(tmp_path: Path) -> None:
    path = write(tmp_path, "aws: {regions: [mars-1], poll_interval_seconds: 0}\nstore: {url: nope}\n")
    result = CliRunner().invoke(app, ["config", "check", "--config", str(path), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert len(report["problems"]) == 3
    assert {p.split(": ")[1] for p in report["problems"]} == {
        "aws.regions",
        "aws.poll_interval_seconds",
        "store.url",
    }


def test_config_check_accepts_a_good_file_without_printing_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    result = CliRunner().invoke(app, ["config", "check", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid"] is True and report["services"] == 2 and report["eventbridge"] is True
    assert "s3cr3t" not in result.output and "ghp_" not in result.output


@pytest.mark.parametrize(
    ("snippet", "field", "problem"),
    [
        ("intake: {sns: {max_event_age: 0}}", "intake.sns.max_event_age", "greater than 0"),
        ("intake: {sns: {max_event_age: soon}}", "intake.sns.max_event_age", "valid timedelta"),
        ("http: {limit_concurrency: 0}", "http.limit_concurrency", "greater than or equal to 1"),
        ("http: {body_timeout_seconds: 0}", "http.body_timeout_seconds", "greater than 0"),
    ],
)
def test_old_event_age_and_http_limit_problems_name_their_field(
    tmp_path: Path, snippet: str, field: str, problem: str
) -> None:
    test_each_problem_names_its_field(tmp_path, snippet, field, problem)


def test_the_llm_is_off_unless_configured_and_the_environment_turns_it_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(write(tmp_path, GOOD)).llm.provider == "off"
    monkeypatch.setenv("ONCALL_LLM__PROVIDER", "bedrock")
    monkeypatch.setenv("ONCALL_LLM__MODEL_ID", "global.anthropic.claude-sonnet-4-5-20250929-v1:0")
    llm = load_settings(write(tmp_path, GOOD)).llm
    assert llm.provider == "bedrock"
    price = llm.price_of(llm.model_id)  # a cross-region profile is priced as the model behind it
    assert price is not None and (price.input_per_million, price.output_per_million) == (3.0, 15.0)
