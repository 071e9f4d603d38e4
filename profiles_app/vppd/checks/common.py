"""Helpers the VPPD semantic checks share: tolerant accessors and duplicate detection."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeGuard

from profiles_app.jsondoc.errors import DocumentError, pointer, show


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def unique(
    items: list,
    field: str,
    base: tuple[object, ...],
    what: str,
    *,
    normalize: Callable[[Any], Any] = lambda v: v,
) -> Iterator[DocumentError]:
    """One error for each item whose ``field`` repeats an earlier item's."""
    seen: dict[Any, int] = {}
    for index, item in enumerate(items):
        value = as_dict(item).get(field)
        if not isinstance(value, str) and not is_int(value):
            continue
        key = normalize(value)
        if key in seen:
            first = pointer((*base, seen[key], field))
            yield DocumentError(
                pointer((*base, index, field)),
                f"duplicate {what} {show(value)}; already used at {first}",
            )
        else:
            seen[key] = index
