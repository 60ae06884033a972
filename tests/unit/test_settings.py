"""Settings: YAML + environment precedence, field-by-field errors, secrets never printed."""

from __future__ import annotations

import json
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
    ],
)
def test_each_problem_names_its_field(tmp_path: Path, snippet: str, field: str, problem: str) -> None:
    path = write(tmp_path, snippet)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    lines = str(info.value).splitlines()
    assert any(line.startswith(f"{path}: {field}") and problem in line for line in lines), lines


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
