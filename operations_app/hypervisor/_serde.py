"""Plain-JSON conversion for the boundary's dataclasses (Django stores them as JSON)."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, Self, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses, enums, tuples and dicts into JSON-ready lists, dicts and scalars."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def _convert(tp: Any, value: Any) -> Any:
    if value is None or tp is Any:
        return value
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in (a for a in get_args(tp) if a is not type(None)):
            try:
                return _convert(arg, value)
            except (TypeError, ValueError):
                continue
        return value
    if origin is typing.Literal:
        return value
    if origin in (list, tuple):
        inner = get_args(tp)[0] if get_args(tp) else Any
        items = [_convert(inner, v) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        key_tp, val_tp = get_args(tp) or (Any, Any)
        return {_convert(key_tp, k): _convert(val_tp, v) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_jsonable(tp, value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if tp is int and isinstance(value, str):
        return int(value)
    if tp is float and isinstance(value, int):
        return float(value)
    return value


def from_jsonable(cls: type[T], data: dict[str, Any]) -> T:
    """Build ``cls`` from ``to_jsonable`` output; unknown keys are ignored, missing use defaults."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} expects a JSON object")
    hints = get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data and f.init:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


class JsonMixin:
    """``to_dict()`` / ``from_dict()`` for dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return from_jsonable(cls, data)
