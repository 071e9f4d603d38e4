"""The error every check reports, and helpers to point at and show values in messages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# A UTF-16 surrogate code point on its own (JSON text may write one as "\ud800"): not a
# character, so no UTF-8 page, response or database can hold it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` with every lone surrogate written as its ``\\uXXXX`` escape, so it can
    be encoded, shown and stored."""
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored or shown as it is, or None when it can."""
    found = _LONE_SURROGATE.search(text)
    if found:
        return (
            f"holds a lone UTF-16 surrogate (\\u{ord(found.group()):04x}), which is not a "
            "character; write the character itself or a complete surrogate pair"
        )
    if "\x00" in text:
        return "holds a NUL character (\\u0000), which text cannot hold"
    return None


@dataclass(frozen=True, order=True)
class DocumentError:
    path: str  # RFC 6901 JSON pointer of the offending field, "" for the document root
    message: str  # human sentence, no traceback

    def __post_init__(self) -> None:
        # Pointers and messages quote the user's keys and values: keep them printable.
        object.__setattr__(self, "path", printable(self.path))
        object.__setattr__(self, "message", printable(self.message))

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
