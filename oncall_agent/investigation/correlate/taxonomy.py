"""The symptom taxonomy: what a log line says failed. The classes are data (`symptom_classes.yaml`, loaded once);
this module loads and checks them and matches lines and drain3 templates against them.

A line can match several classes (a pool wait that timed out is pool exhaustion and a timeout); its *primary*
class is the first one in the file's order, which puts the specific classes before the generic ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from oncall_agent.domain.evidence import Category

FAMILIES = ("credential", "exhaustion", "call_failure", "infrastructure")
_FIELDS = {"name", "family", "kind", "strength", "category", "names_peer", "patterns"}
_OPTIONAL = {"reported_as", "before_peer"}


class TaxonomyError(ValueError):
    """The symptom class file is malformed; the message names the class and the problem."""


@dataclass(frozen=True)
class SymptomClass:
    name: str
    family: str
    kind: str
    strength: float
    category: Category | None  # None: the symptom says nothing about the cause (a timeout)
    names_peer: bool  # the line is a client reporting about the server it calls
    patterns: tuple[re.Pattern[str], ...]
    # How a provider's status text (an AWS Health event) describes this trouble: such an event reports what our
    # lines show.
    reported_as: tuple[re.Pattern[str], ...] = ()
    # The call failed before it reached the peer (its name could not be resolved): the line names the peer but
    # says nothing of the peer's health.
    before_peer: bool = False

    @property
    def combined(self) -> re.Pattern[str]:
        """The class's patterns as one alternation: one search per class rather than one per pattern."""
        return _combined(self.patterns)

    def matches(self, text: str) -> bool:
        return self.combined.search(text) is not None

    def reported_in(self, text: str) -> bool:
        """Does a provider's status text describe this class of trouble?"""
        return bool(self.reported_as) and _combined(self.reported_as).search(text) is not None


@cache
def _combined(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.I)


def _compile(name: str, patterns: object) -> tuple[re.Pattern[str], ...]:
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
        raise TaxonomyError(f"symptom class {name!r}: `patterns` must be a non-empty list of strings")
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, re.I))
        except re.error as exc:
            raise TaxonomyError(f"symptom class {name!r}: bad pattern {pattern!r}: {exc}") from exc
    return tuple(compiled)


def parse_class(raw: Any) -> SymptomClass:
    """One class from its YAML mapping, checked: unknown or missing fields and bad values are errors."""
    if not isinstance(raw, dict):
        raise TaxonomyError(f"a symptom class must be a mapping, got {raw!r}")
    name = str(raw.get("name") or "?")
    if not _FIELDS <= set(raw) <= _FIELDS | _OPTIONAL:
        missing, unknown = sorted(_FIELDS - set(raw)), sorted(set(raw) - _FIELDS - _OPTIONAL)
        raise TaxonomyError(f"symptom class {name!r}: missing fields {missing}, unknown fields {unknown}")
    if raw["family"] not in FAMILIES:
        raise TaxonomyError(f"symptom class {name!r}: family {raw['family']!r} is not one of {FAMILIES}")
    strength = raw["strength"]
    if not isinstance(strength, int | float) or not 0 < strength <= 1:
        raise TaxonomyError(f"symptom class {name!r}: strength {strength!r} is not in (0, 1]")
    try:
        category = Category(raw["category"]) if raw["category"] is not None else None
    except ValueError as exc:
        raise TaxonomyError(f"symptom class {name!r}: unknown category {raw['category']!r}") from exc
    for flag in ("names_peer", "before_peer"):
        if not isinstance(raw.get(flag, False), bool):
            raise TaxonomyError(f"symptom class {name!r}: {flag} must be true or false")
    return SymptomClass(
        name,
        str(raw["family"]),
        str(raw["kind"]),
        float(strength),
        category,
        raw["names_peer"],
        _compile(name, raw["patterns"]),
        _compile(name, raw["reported_as"]) if "reported_as" in raw else (),
        bool(raw.get("before_peer", False)),
    )


def parse(document: Any) -> tuple[SymptomClass, ...]:
    """All classes of a taxonomy document (`{classes: [...]}`), in order; names must be unique."""
    if not isinstance(document, dict) or not isinstance(document.get("classes"), list):
        raise TaxonomyError("the symptom taxonomy must be a mapping with a `classes` list")
    parsed = tuple(parse_class(raw) for raw in document["classes"])
    names = [c.name for c in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TaxonomyError(f"symptom classes named more than once: {duplicates}")
    return parsed


@cache
def classes() -> tuple[SymptomClass, ...]:
    """The packaged taxonomy, loaded once per process."""
    text = resources.files(__package__).joinpath("symptom_classes.yaml").read_text(encoding="utf-8")
    return parse(yaml.safe_load(text))


def by_name(name: str) -> SymptomClass:
    found = next((c for c in classes() if c.name == name), None)
    if found is None:
        raise KeyError(f"no symptom class named {name!r}")
    return found


def matching(text: str, family: str | None = None) -> list[SymptomClass]:
    """Every class (of `family`, if given) the text matches, in the taxonomy's order."""
    return [c for c in classes() if (family is None or c.family == family) and c.matches(text)]


@cache
def _any_symptom() -> re.Pattern[str]:
    """One alternation of every class's patterns: a fast "does this line state any symptom" for every line."""
    return re.compile("|".join(f"(?:{p.pattern})" for c in classes() for p in c.patterns), re.I)


def states_symptom(text: str) -> bool:
    """Does the text match any class? (One regular expression, for the hot path of level guessing.)"""
    return _any_symptom().search(text) is not None


def primary(text: str) -> SymptomClass | None:
    """The first class in the taxonomy's order that the text matches."""
    return next((c for c in classes() if c.matches(text)), None)


def strongest(texts: Iterable[str], family: str) -> SymptomClass | None:
    """The strongest class of `family` any of the texts match (ties: the taxonomy's order)."""
    corpus = list(texts)
    found = [c for c in classes() if c.family == family and any(c.matches(t) for t in corpus)]
    return max(found, key=lambda c: c.strength, default=None)
