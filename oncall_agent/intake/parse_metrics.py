"""What an alarm watches (one metric, metric math, or a composite rule), from the two spellings AWS uses:
PascalCase (SNS `Trigger`, DescribeAlarms items) and camelCase (EventBridge/Lambda action `configuration`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oncall_agent.domain.alarm import MetricSpec
from oncall_agent.domain.errors import PayloadError
from oncall_agent.intake.parse_common import (
    Obj,
    as_obj,
    normalise_stat,
    opt_float,
    opt_int,
    opt_list,
    opt_obj,
    opt_str,
    req_obj,
    req_str,
    show,
)


@dataclass(frozen=True)
class AlarmShape:
    """The AlarmEvent fields describing what the alarm evaluates."""

    metric: MetricSpec | None = None
    metrics: tuple[MetricSpec, ...] = ()
    expression: str | None = None
    threshold: float | None = None
    comparison: str | None = None
    evaluation_periods: int | None = None
    composite_rule: str | None = None

    def event_fields(self) -> dict[str, Any]:
        """Keyword arguments for AlarmEvent."""
        return {
            "metric": self.metric,
            "metrics": list(self.metrics),
            "expression": self.expression,
            "threshold": self.threshold,
            "comparison": self.comparison,
            "evaluation_periods": self.evaluation_periods,
            "composite_rule": self.composite_rule,
        }


def _dimension_list(items: list[Any], where: str) -> dict[str, str]:
    """`[{"name": .., "value": ..}]` (SNS) or `[{"Name": .., "Value": ..}]` (DescribeAlarms)."""
    dims: dict[str, str] = {}
    for index, raw in enumerate(items):
        item = as_obj(raw, f"{where}[{index}]")
        name = item.get("Name", item.get("name"))
        value = item.get("Value", item.get("value"))
        if not isinstance(name, str) or not isinstance(value, str):
            raise PayloadError(f"{where}[{index}] is not a {{name, value}} dimension: {show(raw)}")
        dims[name] = value
    return dims


def _dimension_map(obj: Obj | None, where: str) -> dict[str, str]:
    """`{"InstanceId": "i-..."}` (EventBridge)."""
    if obj is None:
        return {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in obj.items()):
        raise PayloadError(f"{where} is not a map of strings: {show(obj)}")
    return dict(obj)


def _pick_expression(expressions: list[tuple[str, bool]]) -> str | None:
    """The expression whose result the alarm evaluates (ReturnData true), else the first one."""
    for text, returned in expressions:
        if returned:
            return text
    return expressions[0][0] if expressions else None


def pascal_single_metric(obj: Obj, where: str) -> MetricSpec | None:
    """MetricName/Namespace/Statistic|ExtendedStatistic/Dimensions/Period at the top level of `obj`."""
    name = opt_str(obj, "MetricName", where)
    if name is None:
        return None
    stat = opt_str(obj, "Statistic", where) or opt_str(obj, "ExtendedStatistic", where)
    return MetricSpec(
        namespace=req_str(obj, "Namespace", where),
        name=name,
        dimensions=_dimension_list(opt_list(obj, "Dimensions", where), f"{where}.Dimensions"),
        stat=normalise_stat(stat),
        period=opt_int(obj, "Period", where),
    )


def pascal_queries(queries: list[Any], where: str) -> tuple[list[MetricSpec], str | None]:
    """A `Metrics` list of MetricDataQuery items: (every MetricStat, the evaluated Expression)."""
    metrics: list[MetricSpec] = []
    expressions: list[tuple[str, bool]] = []
    for index, raw in enumerate(queries):
        path = f"{where}[{index}]"
        query = as_obj(raw, path)
        returned = query.get("ReturnData", True) is True
        expression = opt_str(query, "Expression", path)
        if expression is not None:
            expressions.append((expression, returned))
        stat = opt_obj(query, "MetricStat", path)
        if stat is not None:
            metric = req_obj(stat, "Metric", f"{path}.MetricStat")
            metrics.append(
                MetricSpec(
                    namespace=req_str(metric, "Namespace", f"{path}.MetricStat.Metric"),
                    name=req_str(metric, "MetricName", f"{path}.MetricStat.Metric"),
                    dimensions=_dimension_list(
                        opt_list(metric, "Dimensions", f"{path}.MetricStat.Metric"),
                        f"{path}.MetricStat.Metric.Dimensions",
                    ),
                    stat=normalise_stat(opt_str(stat, "Stat", f"{path}.MetricStat")),
                    period=opt_int(stat, "Period", f"{path}.MetricStat"),
                )
            )
    return metrics, _pick_expression(expressions)


def pascal_shape(obj: Obj, where: str) -> AlarmShape:
    """SNS `Trigger` or a DescribeAlarms metric alarm: one metric, or metric math (`Metrics`)."""
    queries = opt_list(obj, "Metrics", where)
    if queries:
        metrics, expression = pascal_queries(queries, f"{where}.Metrics")
        single = metrics[0] if metrics else None
    else:
        single = pascal_single_metric(obj, where)
        metrics, expression = ([single] if single else []), None
    return AlarmShape(
        metric=single,
        metrics=tuple(metrics),
        expression=expression,
        threshold=opt_float(obj, "Threshold", where),
        comparison=opt_str(obj, "ComparisonOperator", where),
        evaluation_periods=opt_int(obj, "EvaluationPeriods", where),
    )


def camel_queries(queries: list[Any], where: str) -> tuple[list[MetricSpec], str | None]:
    """EventBridge `configuration.metrics`: (every metricStat, the evaluated expression)."""
    metrics: list[MetricSpec] = []
    expressions: list[tuple[str, bool]] = []
    for index, raw in enumerate(queries):
        path = f"{where}[{index}]"
        query = as_obj(raw, path)
        expression = opt_str(query, "expression", path)
        if expression is not None:
            expressions.append((expression, query.get("returnData", True) is True))
        stat = opt_obj(query, "metricStat", path)
        if stat is not None:
            metric = req_obj(stat, "metric", f"{path}.metricStat")
            metrics.append(
                MetricSpec(
                    namespace=req_str(metric, "namespace", f"{path}.metricStat.metric"),
                    name=req_str(metric, "name", f"{path}.metricStat.metric"),
                    dimensions=_dimension_map(
                        opt_obj(metric, "dimensions", f"{path}.metricStat.metric"),
                        f"{path}.metricStat.metric.dimensions",
                    ),
                    stat=normalise_stat(opt_str(stat, "stat", f"{path}.metricStat")),
                    period=opt_int(stat, "period", f"{path}.metricStat"),
                )
            )
    return metrics, _pick_expression(expressions)


def camel_shape(configuration: Obj, where: str, threshold: float | None) -> AlarmShape:
    """EventBridge / Lambda action `configuration`: composite (`alarmRule`) or metrics (single or math).

    State-change events carry no threshold in `configuration`; the caller passes the one from `reasonData`.
    """
    rule = opt_str(configuration, "alarmRule", where)
    if rule is not None:
        return AlarmShape(composite_rule=rule)
    metrics, expression = camel_queries(opt_list(configuration, "metrics", where), f"{where}.metrics")
    if threshold is None:
        threshold = opt_float(configuration, "threshold", where)
    return AlarmShape(
        metric=metrics[0] if metrics else None,
        metrics=tuple(metrics),
        expression=expression,
        threshold=threshold,
        comparison=opt_str(configuration, "comparisonOperator", where),
        evaluation_periods=opt_int(configuration, "evaluationPeriods", where),
    )
