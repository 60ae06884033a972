"""The world's reaction to the agent's actions, which moto cannot play (it never evaluates alarms).

When the scenario's true culprit stops running (the ECS service no longer runs the culprit task definition,
the Lambda alias no longer points at the culprit version), the incident's metrics go back to their baseline
and its alarms return to OK. Anything else — an action that does not address the cause — changes nothing,
so verification can fail honestly.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from oncall_agent.sandbox import moto_series
from oncall_agent.sandbox.generate import level_at
from oncall_agent.sandbox.reactor_codedeploy import codedeploy_culprit_is_running, culprit_codedeploy
from oncall_agent.sandbox.scenario import CodeDeployDeploy, EcsDeploy, LambdaDeploy, Scenario
from oncall_agent.sandbox.scenario_targets import account_of, ecs_target, lambda_alias


def culprit_deploy(scenario: Scenario) -> EcsDeploy | LambdaDeploy | CodeDeployDeploy | None:
    """The deploy the truth blames, if the truth is a deploy the sandbox can watch being undone."""
    if scenario.truth.category != "deploy" or not scenario.truth.culprit:
        return None
    names = {scenario.truth.culprit.lower(), *(a.lower() for a in scenario.truth.accept)}
    for deploy in scenario.deploys:
        if isinstance(deploy, EcsDeploy) and deploy.task_definition.lower() in names:
            return deploy
        if isinstance(deploy, LambdaDeploy) and f"{deploy.function}:{deploy.version}".lower() in names:
            return deploy
    return culprit_codedeploy(scenario)


def _same_task_definition(running: str, culprit: str) -> bool:
    # moto keeps the value as passed: a bare `family:rev` or a full ARN ending in it.
    return running == culprit or running.endswith(f"/{culprit}")


def culprit_is_running(scenario: Scenario, deploy: EcsDeploy | LambdaDeploy | CodeDeployDeploy, client: Any) -> bool:
    if isinstance(deploy, CodeDeployDeploy):
        return codedeploy_culprit_is_running(scenario, deploy, client)
    if isinstance(deploy, EcsDeploy):
        cluster, service = ecs_target(scenario, deploy.service)
        found = client("ecs").describe_services(cluster=cluster, services=[service])["services"]
        return bool(found) and _same_task_definition(found[0]["taskDefinition"], deploy.task_definition)
    alias = client("lambda").get_alias(FunctionName=deploy.function, Name=lambda_alias(scenario, deploy))
    return str(alias["FunctionVersion"]) == str(deploy.version)


def recover(scenario: Scenario, client: Any) -> None:
    """Baseline metric points for the incident alarms' metrics, then every incident alarm to OK."""
    cloudwatch = client("cloudwatch")
    now = datetime.now(UTC)
    for series in scenario.metrics:
        metric = series.metric
        # A recorded series (`points`) goes back to its first value, its level before the incident.
        value = series.baseline if series.baseline is not None else level_at(series, float("-inf"))
        shape = (metric.namespace, metric.name, dict(metric.dimensions))
        moto_series.add_point(account_of(scenario), scenario.region, shape, metric.stat, (now, value))
        cloudwatch.put_metric_data(
            Namespace=metric.namespace,
            MetricData=[
                {
                    "MetricName": metric.name,
                    "Timestamp": now,
                    "Value": value,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in metric.dimensions.items()],
                }
            ],
        )
    for alarm in scenario.alarms:
        cloudwatch.set_alarm_state(
            AlarmName=alarm.name, StateValue="OK", StateReason="Threshold Crossed: datapoints back under the threshold"
        )


class WorldReactor(threading.Thread):
    def __init__(self, scenario: Scenario, client: Any, interval: float = 0.3) -> None:
        super().__init__(name="sandbox-reactor", daemon=True)
        self._scenario = scenario
        self._client = client
        self._interval = interval
        self._stop_event = threading.Event()
        self.recovered = threading.Event()

    def run(self) -> None:
        deploy = culprit_deploy(self._scenario)
        if deploy is None:
            return
        while not self._stop_event.wait(self._interval):
            try:
                if not culprit_is_running(self._scenario, deploy, self._client):
                    recover(self._scenario, self._client)
                    self.recovered.set()
                    return
            except Exception:  # noqa: BLE001, S112 - moto briefly unavailable: look again next tick
                continue

    def stop(self) -> None:
        self._stop_event.set()
