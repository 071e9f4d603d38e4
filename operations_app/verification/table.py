"""A table of what is compared, and the one function that evaluates it.

A ``Compared`` row says what one check compares: its name, the value expected (from the
plan), the value found (from the VM), how the two are compared and how each is written
on the check. ``Each`` repeats its rows for every item of a collection (every volume,
every NIC), in item order. ``evaluate`` walks a table over a facts object and returns
the ``Check``s, in table order. No Django, no I/O: the facts are read beforehand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

F = TypeVar("F")


@dataclass
class Check:
    section: str
    pointer: str
    name: str
    expected: str
    actual: str
    passed: bool
    source: str = "libvirt"
    detail: str = ""


def show_value(value: Any) -> str:
    """A value as a check writes it (JSON for dicts and lists, "—" for nothing)."""
    if value is None:
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def equal(expected: Any, actual: Any) -> bool:
    return expected == actual


def at_least(expected: Any, actual: Any) -> bool:
    return actual >= expected


def never(expected: Any, actual: Any) -> bool:
    """For a row that only reports a failure (e.g. something is missing)."""
    return False


Text = str | Callable[[Any, Any], str]  # fixed, or made of (facts, item)


@dataclass(frozen=True)
class Compared(Generic[F]):
    """One check: ``expected(facts, item)`` against ``actual(facts, item)``."""

    section: str
    pointer: Text
    name: Text
    expected: Callable[[F, Any], Any]
    actual: Callable[[F, Any], Any]
    how: Callable[[Any, Any], bool] = equal
    show: Callable[[Any], str] = str
    show_actual: Callable[[Any], str] | None = None  # default: ``show``
    when: Callable[[F, Any], bool] | None = None  # default: always


@dataclass(frozen=True)
class Each(Generic[F]):
    """``rows`` once for every item ``items(facts)`` yields."""

    items: Callable[[F], Iterable[Any]]
    rows: Sequence[Compared[F]]


Table = Sequence["Compared[F] | Each[F]"]


def _text(value: Text, facts: Any, item: Any) -> str:
    return value if isinstance(value, str) else value(facts, item)


def evaluate(table: Table, facts: F, *, source: str = "libvirt") -> list[Check]:
    """The checks of ``table`` over ``facts``, in table order (``Each`` rows item by item)."""
    checks: list[Check | None] = []
    for entry in table:
        if isinstance(entry, Each):
            for item in entry.items(facts):
                checks.extend(_row(row, facts, item, source) for row in entry.rows)
        else:
            checks.append(_row(entry, facts, None, source))
    return [c for c in checks if c is not None]


def _row(row: Compared, facts: Any, item: Any, source: str) -> Check | None:
    if row.when is not None and not row.when(facts, item):
        return None
    expected, actual = row.expected(facts, item), row.actual(facts, item)
    return Check(
        section=row.section,
        pointer=_text(row.pointer, facts, item),
        name=_text(row.name, facts, item),
        expected=row.show(expected),
        actual=(row.show_actual or row.show)(actual),
        passed=bool(row.how(expected, actual)),
        source=source,
    )
