"""Format-2 sections of a scenario about the world around a service: declared AWS `resources` and recorded
metric `points` (SCENARIOS.md "Additions (format 2)").

A resource's `id` is what AWS reports and CloudWatch uses as the dimension value, so its shape is checked for
the types whose ids have one (`app/name/hash`, `targetgroup/name/hash`, `nat-…`, `i-…`). Link fields
(`target_groups`, `protects`, `targets`) exist only on the type whose API reports that link.
"""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

from oncall_agent.sandbox.scenario_types import IdText, RelTime, Strict

LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
WEB_ACL = "AWS::WAFv2::WebACL"
DB_INSTANCE = "AWS::RDS::DBInstance"
DB_CLUSTER = "AWS::RDS::DBCluster"
DB_PROXY = "AWS::RDS::DBProxy"

LOAD_BALANCER_ID = re.compile(r"(app|net|gwy)/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,16}")
TARGET_GROUP_ID = re.compile(r"targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,16}")

_ID_SHAPES: dict[str, tuple[re.Pattern[str], str]] = {
    LOAD_BALANCER: (LOAD_BALANCER_ID, "app/NAME/HASH (or net/…, gwy/…), as CloudWatch's LoadBalancer dimension"),
    TARGET_GROUP: (TARGET_GROUP_ID, "targetgroup/NAME/HASH, as CloudWatch's TargetGroup dimension"),
    "AWS::EC2::NatGateway": (re.compile(r"nat-[0-9a-f]{1,17}"), "nat-HEX"),
    "AWS::EC2::Instance": (re.compile(r"i-[0-9a-f]{1,17}"), "i-HEX"),
    "AWS::DirectConnect::Connection": (re.compile(r"dxcon-[0-9a-z]{1,16}"), "dxcon-ID"),
}
_LINKS = {"target_groups": (LOAD_BALANCER,), "protects": (WEB_ACL,), "targets": (DB_PROXY,)}
_ENGINE_TYPES = (
    DB_INSTANCE,
    DB_CLUSTER,
    DB_PROXY,
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::CacheCluster",
)


def target_group_problem(value: str) -> str | None:
    """Why `value` is not a target group id as ECS and CloudWatch report it, or None when it is one."""
    if TARGET_GROUP_ID.fullmatch(value):
        return None
    return f"{value!r} is not a target group id targetgroup/NAME/HASH (as CloudWatch's TargetGroup dimension)"


class ResourceSpec(Strict):
    """One AWS resource in the account (`resources`)."""

    type: str = Field(pattern=r"^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$")
    id: Annotated[IdText, Field(min_length=1)]
    tags: dict[str, IdText] = Field(default_factory=dict)
    engine: str | None = Field(default=None, min_length=1)
    target_groups: list[str] = Field(default_factory=list)
    protects: list[str] = Field(default_factory=list)
    targets: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("target_groups")
    @classmethod
    def _target_group_ids(cls, value: list[str]) -> list[str]:
        for item in value:
            problem = target_group_problem(item)
            if problem:
                raise PydanticCustomError("resource_id", "{problem}", {"problem": problem})
        return value

    @model_validator(mode="after")
    def _fits_type(self) -> ResourceSpec:
        shape = _ID_SHAPES.get(self.type)
        if shape and not shape[0].fullmatch(self.id):
            raise PydanticCustomError(
                "resource_id",
                "id {got} of {type} must look like {shape}",
                {"got": repr(self.id), "type": self.type, "shape": shape[1]},
            )
        for name, types in _LINKS.items():
            if getattr(self, name) and self.type not in types:
                raise PydanticCustomError(
                    "resource_link", "'{field}' applies only to {types}", {"field": name, "types": ", ".join(types)}
                )
        if self.engine is not None and self.type not in _ENGINE_TYPES:
            raise PydanticCustomError(
                "resource_link", "'engine' applies only to {types}", {"types": ", ".join(_ENGINE_TYPES)}
            )
        return self


class PointsFrom(Strict):
    """`points: {start, values}`: one value per period, the first at `start`; null is a missing datapoint."""

    start: RelTime
    values: list[float | None] = Field(min_length=1)


PointPair = tuple[RelTime, float | None]


def _points_form(value: Any) -> str | None:
    if isinstance(value, dict | PointsFrom):
        return "start_values"
    if isinstance(value, list):
        return "pairs"
    return None


Points = Annotated[
    Annotated[PointsFrom, Tag("start_values")] | Annotated[list[PointPair], Tag("pairs")],
    Discriminator(
        _points_form,
        custom_error_type="points_form",
        custom_error_message="points must be {start, values} or a list of [time, value] pairs",
    ),
]


def point_offsets(points: PointsFrom | list[PointPair], period: int) -> list[tuple[timedelta, float | None]]:
    """(offset from now, value) of every recorded point, nulls included, in the order written."""
    if isinstance(points, PointsFrom):
        return [(points.start + timedelta(seconds=i * period), v) for i, v in enumerate(points.values)]
    return list(points)


def points_problem(points: PointsFrom | list[PointPair], period: int) -> str | None:
    """Why recorded points are not a valid series (empty, out of order, after now), or None."""
    offsets = [offset for offset, _ in point_offsets(points, period)]
    if not offsets:
        return "points must hold at least one value"
    if any(later <= earlier for earlier, later in itertools.pairwise(offsets)):
        return "point times must increase"
    if offsets[-1] > timedelta(0):
        last = int(offsets[-1].total_seconds())
        return f"the last point falls {last}s after now: points end at or before 0m"
    return None
