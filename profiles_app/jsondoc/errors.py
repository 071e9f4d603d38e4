"""The error every check reports, and helpers to point at and show values in messages."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class DocumentError:
    path: str  # RFC 6901 JSON pointer of the offending field, "" for the document root
    message: str  # human sentence, no traceback

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def escape(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(parts: Iterable[object]) -> str:
    return "".join("/" + escape(part) for part in parts)


def show(value: Any, limit: int = 60) -> str:
    """A short JSON-ish rendering of a value for messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
