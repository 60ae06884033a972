"""Reading scenario YAML strictly and turning every problem into one `FILE: FIELD: PROBLEM` line.

PyYAML silently keeps the last of two equal keys, which hides authoring mistakes, so the loader here rejects
duplicate keys. Pydantic's error locations become field paths such as `alarms[0].metric.period`, with the
discriminator tag of `deploys`/`tickets` items left out (authors never write it as a level).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

Loc = Sequence[int | str]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(text: str, source: str) -> Any:
    """Parse YAML, raising ValueError with `FILE:LINE:COLUMN: problem` on a syntax error or duplicate key."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ValueError(f"{where}: YAML syntax error: {problem}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: YAML error: {exc}") from exc


def field_path(loc: Loc) -> str:
    """('alarms', 0, 'metric', 'period') -> 'alarms[0].metric.period'."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


_TAGGED_LISTS = {"deploys": "kind", "tickets": "system", "events": "source"}
_POINTS_FORMS = {"start_values", "pairs"}


def _without_tags(loc: Loc) -> tuple[int | str, ...]:
    # Pydantic puts the discriminator value after the list index: deploys.0.ecs.task_definition, and the
    # form of `points` after it: metrics.0.points.start_values.values.3.
    parts = tuple(loc)
    if len(parts) >= 3 and parts[0] in _TAGGED_LISTS and isinstance(parts[1], int):
        parts = parts[:2] + parts[3:]
    for index in range(1, len(parts) - 1):
        if parts[index] == "points" and parts[index + 1] in _POINTS_FORMS:
            return parts[: index + 1] + parts[index + 2 :]
    return parts


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def _field_names(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model whose field `loc[-1]` would be, following list indexes and discriminator tags."""
    candidates = [root]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        by_field = [f for model in candidates for name, f in model.model_fields.items() if part in (name, f.alias)]
        if by_field:
            candidates = _models_in(by_field[0].annotation)
        else:  # a discriminator tag picks one member of a union
            candidates = [
                m for m in candidates if any(part in typing.get_args(f.annotation) for f in m.model_fields.values())
            ]
        if not candidates:
            return None
    return candidates[0] if len(candidates) == 1 else None


def _unknown_field(root: type[BaseModel], loc: Loc) -> str:
    name = str(loc[-1])
    model = _model_at(root, loc)
    if model is None:
        return f"unknown field {name!r}"
    allowed = _field_names(model)
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown field {name!r}{hint} (allowed: {', '.join(allowed)})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# Our own error types already quote the offending value.
_SAYS_WHAT_WAS_GIVEN = {"relative_time", "statistic", "period", "placeholder", "task_definition"}


def _problem(root: type[BaseModel], error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return _unknown_field(root, error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    # Show what was given for scalar inputs (whole mappings would drown the line).
    if isinstance(value, str | int | float | bool | types.NoneType) and kind not in _SAYS_WHAT_WAS_GIVEN:
        message += f" (got {_short(value)})"
    return message


def format_validation_error(exc: ValidationError, root: type[BaseModel], source: str) -> list[str]:
    """One `FILE: FIELD: PROBLEM` line per pydantic error."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = _without_tags(error["loc"])
        tag = _TAGGED_LISTS.get(str(loc[0]), "kind")
        if error["type"] == "union_tag_not_found":
            loc, problem = (*loc, tag), "required field is missing"
        elif error["type"] == "union_tag_invalid":
            ctx = error.get("ctx", {})
            loc, problem = (*loc, tag), f"{ctx.get('tag')!r} is not one of {ctx.get('expected_tags')}"
        else:
            problem = _problem(root, error)
        lines.append(f"{source}: {field_path(loc)}: {problem}")
    return lines
