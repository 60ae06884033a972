"""The scenario loader accepts exactly the SCENARIOS.md format and names file, field and problem otherwise."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from oncall_agent.domain.errors import ScenarioError
from oncall_agent.sandbox.scenario import (
    EcsDeploy,
    GitHubTicket,
    LambdaDeploy,
    Scenario,
    ServiceNowTicket,
    load_scenario,
    load_scenarios,
    parse_relative,
    resolve_time,
    split_task_definition,
)

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "tests" / "scenarios"
SPEC_EXAMPLE = REPO / "tests" / "fixtures" / "scenario_spec_example.yaml"
SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


def spec_data() -> dict[str, Any]:
    data = yaml.safe_load(SPEC_EXAMPLE.read_text())
    assert isinstance(data, dict)
    return data


def write(tmp_path: Path, data: object, name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def problem_lines(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return str(caught.value).splitlines()


# --- what must load ---------------------------------------------------------------------------------------


def test_the_three_shipped_scenarios_exist() -> None:
    assert {p.name for p in SHIPPED} >= {"ecs-bad-deploy.yaml", "config-change-sg.yaml", "dependency-payments.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.id == path.stem
    assert scenario.source == path
    assert scenario.incident_alarm.service in {s.name for s in scenario.services}
    assert scenario.truth.actions and not set(scenario.truth.actions) & set(scenario.truth.forbid)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_carry_distractors(path: Path) -> None:
    """Real incidents come with innocent changes around them: every scenario whose cause is not a deploy has a
    deploy nearby, and every scenario at least one more kind of distractor (a change request, a past incident
    with another cause, another alarm, a change that is not the culprit)."""
    scenario = load_scenario(path)
    truth = scenario.truth
    assert scenario.deploys or truth.category == "deploy", "a deploy that is not the cause"
    others = {
        "change request": any(
            isinstance(t, ServiceNowTicket) and t.table == "change_request" for t in scenario.tickets
        ),
        "past incident, other cause": any(h.category != truth.category for h in scenario.history),
        "another alarm": any(o.state == "ALARM" for o in scenario.other_alarms),
        "an innocent change": any(change.id != truth.culprit for change in scenario.changes),
    }
    assert any(others.values()), f"no distractor besides the deploy among {sorted(others)}"


def test_shipped_truths() -> None:
    truths = {s.id: s.truth for s in load_scenarios(SCENARIOS)}
    assert truths["ecs-bad-deploy"].category == "deploy"
    assert truths["ecs-bad-deploy"].culprit == "checkout:118"
    assert truths["ecs-bad-deploy"].actions == ["ecs.rollback"] and "ecs.scale" in truths["ecs-bad-deploy"].forbid
    assert truths["config-change-sg"].category == "config_change"
    assert truths["dependency-payments"].culprit == "payments"
    assert truths["dependency-payments"].actions == ["escalate"]
    assert truths["dependency-payments"].forbid == ["ecs.rollback"]


def test_config_change_culprit_is_a_cloudtrail_event_of_the_scenario() -> None:
    scenario = load_scenario(SCENARIOS / "config-change-sg.yaml")
    assert scenario.truth.culprit in {change.id for change in scenario.changes}


def test_payments_alarm_fired_before_checkouts() -> None:
    scenario = load_scenario(SCENARIOS / "dependency-payments.yaml")
    payments = next(o for o in scenario.other_alarms if o.name == "payments-latency-p99")
    assert payments.state == "ALARM" and payments.since < scenario.incident_alarm.fires_at
    checkout_deploys = [d for d in scenario.deploys if isinstance(d, EcsDeploy) and d.service == "checkout"]
    assert max(d.at for d in checkout_deploys) < payments.since  # the innocent deploy came before


def test_spec_example_loads_with_documented_defaults() -> None:
    scenario = load_scenario(SPEC_EXAMPLE)
    assert scenario.id == "checkout-bad-deploy" and scenario.region == "us-east-1"
    assert scenario.account == "123456789012"
    alarm = scenario.alarms[0]
    assert alarm.fires_at == timedelta(0) and alarm.metric.period == 60 and alarm.metric.stat == "Sum"
    generators = scenario.logs[0].lines
    assert generators[0].from_ == timedelta(hours=-3) and generators[0].until == timedelta(0)
    assert generators[2].from_ == timedelta(minutes=-12)
    assert scenario.services[0].ecs is not None and scenario.services[0].ecs.cluster == "prod"
    ecs, lam, codedeploy = scenario.deploys
    assert isinstance(ecs, EcsDeploy) and ecs.task_definition == "checkout:42" and ecs.previous == "checkout:41"
    assert isinstance(lam, LambdaDeploy) and (lam.version, lam.previous) == ("17", "16")
    assert codedeploy.kind == "codedeploy" and codedeploy.deployment_id == "d-ABC123"
    change = scenario.changes[0]
    assert change.parameters == {"groupId": "sg-0abc12"} and change.at == timedelta(minutes=-5)
    assert isinstance(scenario.tickets[2], GitHubTicket) and scenario.tickets[2].labels == ["bug"]
    snow = scenario.tickets[0]
    assert isinstance(snow, ServiceNowTicket) and snow.end == timedelta(minutes=30)
    assert scenario.other_alarms[0].metric.stat is None  # other alarms may omit stat and period
    assert scenario.truth.accept == ["a1b2c3d", "acme/checkout#812"]
    assert scenario.history[0].culprit == "checkout:37"


def test_load_scenarios_sorts_by_file_and_loads_all() -> None:
    ids = [s.id for s in load_scenarios(SCENARIOS)]
    assert ids == sorted(ids) and len(ids) == len(SHIPPED)


def test_unquoted_numbers_are_identifiers(tmp_path: Path) -> None:
    data = spec_data()
    data["account"] = 123456789012
    data["deploys"][1]["version"], data["deploys"][1]["previous"] = 17, 16
    data["commits"][0]["sha"] = 1234567
    scenario = load_scenario(write(tmp_path, data))
    assert scenario.account == "123456789012"
    deploy = scenario.deploys[1]
    assert isinstance(deploy, LambdaDeploy) and deploy.version == "17"
    assert scenario.commits[0].sha == "1234567"


def test_json_braces_in_templates_are_text(tmp_path: Path) -> None:
    data = spec_data()
    data["logs"][0]["lines"] = [{"template": '{"level":"error","ms":{ms}}', "per_minute": 1}]
    assert load_scenario(write(tmp_path, data)).logs[0].lines[0].template.startswith('{"level"')


def test_scenario_is_frozen() -> None:
    scenario = load_scenario(SPEC_EXAMPLE)
    with pytest.raises(ValueError, match="frozen"):
        scenario.id = "other"  # type: ignore[misc]


# --- relative times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-25m", timedelta(minutes=-25)),
        ("-2h", timedelta(hours=-2)),
        ("-3d", timedelta(days=-3)),
        ("+10m", timedelta(minutes=10)),
        ("0m", timedelta(0)),
        ("-0s", timedelta(0)),
        ("-90s", timedelta(seconds=-90)),
        ("+1d", timedelta(days=1)),
    ],
)
def test_relative_times(text: str, expected: timedelta) -> None:
    assert parse_relative(text) == expected


@pytest.mark.parametrize("text", ["25m", "-2w", "-1h30m", "-1.5h", "now", "", "- 5m", "-5 m", "-5M", "5"])
def test_bad_relative_times(text: str) -> None:
    with pytest.raises(ValueError, match=r"relative time|needs a sign"):
        parse_relative(text)


def test_resolve_time_is_utc() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert resolve_time(timedelta(minutes=-25), now) == datetime(2026, 1, 2, 2, 39, 5, tzinfo=UTC)
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert resolve_time(timedelta(0), naive).tzinfo is UTC


def test_split_task_definition() -> None:
    assert split_task_definition("checkout:42") == ("checkout", 42)
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/checkout:42"
    assert split_task_definition(arn) == ("checkout", 42)


# --- what must not load: every problem names file, field and problem ----------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return mutate


def _append(path: str, item: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for part in path.split("."):
            target = target[int(part)] if part.isdigit() else target[part]
        target.append(copy.deepcopy(item))

    return mutate


BAD: list[tuple[str, Mutation, str, str]] = [
    ("missing period", _drop("alarms.0.metric.period"), "alarms[0].metric.period", "required"),
    ("period not a number", _set("alarms.0.metric.period", "sixty"), "alarms[0].metric.period", "integer"),
    ("period 45", _set("alarms.0.metric.period", 45), "alarms[0].metric.period", "multiple of 60"),
    ("unknown statistic", _set("alarms.0.metric.stat", "Avg"), "alarms[0].metric.stat", "unknown statistic"),
    ("unsigned time", _set("alarms.0.fires_at", "5m"), "alarms[0].fires_at", "needs a sign"),
    ("bad time unit", _set("alarms.0.fires_at", "-5w"), "alarms[0].fires_at", "not a relative time"),
    ("time as number", _set("deploys.0.at", 5), "deploys[0].at", "expected a relative time"),
    ("unknown alarm field", _set("alarms.0.servce", "x"), "alarms[0].servce", "did you mean 'service'"),
    ("unknown top field", _set("owner", "x"), "owner", "unknown field"),
    ("id not a slug", _set("id", "Checkout_Bad"), "id", "slug"),
    ("alarm service unknown", _set("alarms.0.service", "cart"), "alarms[0].service", "unknown service 'cart'"),
    ("category", _set("truth.category", "bad_luck"), "truth.category", "'deploy'"),
    ("action kind", _set("truth.actions", ["ecs.rolback"]), "truth.actions[0]", "'ecs.rollback'"),
    ("action both", _set("truth.forbid", ["ecs.rollback"]), "truth.forbid", "both accepted"),
    ("culprit for unknown", _set("truth.category", "unknown"), "truth.culprit", "omitted"),
    ("ecs task_definition", _drop("deploys.0.task_definition"), "deploys[0].task_definition", "required"),
    ("ecs service", _drop("deploys.0.service"), "deploys[0].service", "required"),
    ("lambda function", _drop("deploys.1.function"), "deploys[1].function", "required"),
    ("lambda version", _drop("deploys.1.version"), "deploys[1].version", "required"),
    ("codedeploy app", _drop("deploys.2.application"), "deploys[2].application", "required"),
    ("codedeploy group", _drop("deploys.2.group"), "deploys[2].group", "required"),
    ("codedeploy id", _drop("deploys.2.deployment_id"), "deploys[2].deployment_id", "required"),
    ("deploy kind missing", _drop("deploys.0.kind"), "deploys[0].kind", "required"),
    ("deploy kind unknown", _set("deploys.0.kind", "k8s"), "deploys[0].kind", "'k8s' is not one of"),
    ("field of other kind", _set("deploys.0.version", "3"), "deploys[0].version", "unknown field"),
    ("task definition", _set("deploys.0.task_definition", "checkout"), "deploys[0].task_definition", "family:rev"),
    ("previous family", _set("deploys.0.previous", "cart:41"), "deploys[0].previous", "same family"),
    ("service ecs target", _set("services.0.ecs", {"cluster": "prod"}), "services[0].ecs.service", "required"),
    ("service typo", _set("services.0.log_group", ["/x"]), "services[0].log_group", "did you mean 'log_groups'"),
    ("duplicate service", _append("services", {"name": "checkout"}), "services[1].name", "duplicate service"),
    (
        "step and ramp",
        _append("metrics.0.changes", {"at": "-1m", "to": 1, "ramp_to": 2}),
        "metrics[0].changes[2]",
        "exactly one of",
    ),
    (
        "until on step",
        _append("metrics.0.changes", {"at": "-1m", "to": 1, "until": "0m"}),
        "metrics[0].changes[2]",
        "only to a ramp",
    ),
    (
        "ramp backwards",
        _append("metrics.0.changes", {"at": "-1m", "ramp_to": 1, "until": "-2m"}),
        "metrics[0].changes[2]",
        "after it starts",
    ),
    ("negative noise", _set("metrics.0.noise", -1), "metrics[0].noise", "greater than or equal to 0"),
    (
        "placeholder",
        _append("logs.0.lines", {"template": "hi {user}", "per_minute": 1}),
        "logs[0].lines[3].template",
        "unknown placeholder {user}",
    ),
    (
        "window",
        _append("logs.0.lines", {"template": "x", "per_minute": 1, "from": "-1m", "until": "-2m"}),
        "logs[0].lines[3].until",
        "after 'from'",
    ),
    (
        "window after now",
        _append("logs.0.lines", {"template": "x", "per_minute": 1, "from": "+5m"}),
        "logs[0].lines[3].until",
        "after 'from'",
    ),
    (
        "too many lines",
        _append("logs.0.lines", {"template": "x", "per_minute": 500, "from": "-30d"}),
        "logs[0].lines[3].until",
        "more than 200000 lines",
    ),
    ("per_minute zero", _set("logs.0.lines.0.per_minute", 0), "logs[0].lines[0].per_minute", "greater than 0"),
    ("change request start", _drop("tickets.0.start"), "tickets[0].start", "change_request needs 'start'"),
    ("incident opened", _drop("tickets.1.opened"), "tickets[1].opened", "incident needs 'opened'"),
    ("ticket system", _set("tickets.2.system", "jira"), "tickets[2].system", "'jira' is not one of"),
    ("github ticket typo", _set("tickets.2.label", ["x"]), "tickets[2].label", "did you mean 'labels'"),
    ("other alarm state", _set("other_alarms.0.state", "FIRING"), "other_alarms[0].state", "'ALARM'"),
    ("duplicate alarm", _set("other_alarms.0.name", "checkout-5xx-high"), "other_alarms[0].name", "duplicate alarm"),
    ("history category", _set("history.0.category", "oops"), "history[0].category", "'deploy'"),
    ("commit sha", _set("commits.0.sha", "zzz"), "commits[0].sha", "pattern"),
    ("commit repo", _set("commits.0.repo", "checkout"), "commits[0].repo", "pattern"),
    ("change source", _set("changes.0.source", "ec2"), "changes[0].source", "pattern"),
    ("no alarms", _set("alarms", []), "alarms", "at least 1"),
    ("no truth", _drop("truth"), "truth", "required"),
    ("wrong container", _set("services", {"name": "checkout"}), "services", "valid list"),
    ("account", _set("account", "12345"), "account", "pattern"),
]


@pytest.mark.parametrize(("label", "mutate", "field", "problem"), BAD, ids=[case[0] for case in BAD])
def test_malformed_scenarios_name_file_field_and_problem(
    tmp_path: Path, label: str, mutate: Mutation, field: str, problem: str
) -> None:
    data = spec_data()
    mutate(data)
    path = write(tmp_path, data)
    lines = problem_lines(path)
    matching = [line for line in lines if line.startswith(f"{path}: {field}: ")]
    assert matching, f"{label}: no line for {field} in {lines}"
    assert any(problem in line for line in matching), f"{label}: {matching}"


def test_every_error_is_reported_one_per_line(tmp_path: Path) -> None:
    data = spec_data()
    _drop("alarms.0.metric.period")(data)
    _set("deploys.1.version", "seventeen")(data)
    _set("truth.category", "nope")(data)
    path = write(tmp_path, data)
    lines = problem_lines(path)
    assert len(lines) == 3
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert {line.split(": ")[1] for line in lines} == {
        "alarms[0].metric.period",
        "deploys[1].version",
        "truth.category",
    }


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text("id: x\ntitle: y\nservices: [a, b\nalarms: []\n")
    (line,) = problem_lines(path)
    assert line.startswith(f"{path}:4:") and "YAML syntax error" in line


def test_duplicate_yaml_keys_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(SPEC_EXAMPLE.read_text() + "\ntitle: again\n")
    (line,) = problem_lines(path)
    assert "duplicate key 'title'" in line and line.startswith(f"{path}:")


@pytest.mark.parametrize(("text", "problem"), [("", "empty"), ("- a\n- b\n", "mapping"), ("just text", "mapping")])
def test_documents_that_are_not_mappings(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    (line,) = problem_lines(path)
    assert line.startswith(f"{path}: ") and problem in line


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.yaml")


def test_folder_with_duplicate_ids_names_both_files(tmp_path: Path) -> None:
    write(tmp_path, spec_data(), "a.yaml")
    write(tmp_path, spec_data(), "b.yml")
    with pytest.raises(ScenarioError) as caught:
        load_scenarios(tmp_path)
    message = str(caught.value)
    assert f"{tmp_path / 'b.yml'}: id: duplicate id 'checkout-bad-deploy'" in message
    assert str(tmp_path / "a.yaml") in message


def test_folder_collects_problems_of_every_file(tmp_path: Path) -> None:
    first, second = spec_data(), spec_data()
    first["id"], second["id"] = "first", "second"
    _drop("truth")(first)
    _set("region", "Mars")(second)
    write(tmp_path, first, "1.yaml")
    write(tmp_path, second, "2.yaml")
    (tmp_path / "notes.txt").write_text("ignored")
    with pytest.raises(ScenarioError) as caught:
        load_scenarios(tmp_path)
    lines = str(caught.value).splitlines()
    assert any(line.startswith(f"{tmp_path / '1.yaml'}: truth:") for line in lines)
    assert any(line.startswith(f"{tmp_path / '2.yaml'}: region:") for line in lines)


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no scenario files"):
        load_scenarios(tmp_path)
    with pytest.raises(ScenarioError, match="not a directory"):
        load_scenarios(tmp_path / "missing")


def test_scenario_model_validates_in_code_too() -> None:
    data = spec_data()
    scenario = Scenario.model_validate(data)
    assert scenario.service("checkout") is not None and scenario.service("nope") is None
