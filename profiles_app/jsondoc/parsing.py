"""JSON text to a document, strictly: errors carry the line and column of the problem."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from profiles_app.jsondoc.errors import DocumentError, pointer

MAX_JSON_DIGITS = 4000  # below Python's int/str conversion limit


_CONSTANT = re.compile(
    r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)'
    rf"|((?<![.0-9eE+-])-?[0-9]{{{MAX_JSON_DIGITS + 1},}}(?![.0-9eE]))"
)


class _NonStandardNumber(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonStandardNumber(name)


def _parse_int(text: str) -> int:
    if len(text) > MAX_JSON_DIGITS:
        raise _NonStandardNumber(text)
    return int(text)


class _DuplicateKeys(dict):
    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    duplicates = []
    for key, value in pairs:
        if key in result and key not in duplicates:
            duplicates.append(key)
        result[key] = value
    if not duplicates:
        return result
    marked = _DuplicateKeys(result)
    marked.duplicates = duplicates
    return marked


def _duplicate_key_errors(value: Any, parts: list[object]) -> Iterator[DocumentError]:
    stack = [(value, parts)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, _DuplicateKeys):
            for key in current.duplicates:
                yield DocumentError(
                    pointer([*where, key]),
                    "appears more than once in its object; JSON keys must be unique",
                )
        if isinstance(current, dict):
            stack.extend((item, [*where, key]) for key, item in current.items())
        elif isinstance(current, list):
            stack.extend((item, [*where, index]) for index, item in enumerate(current))


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def parse_json_text(text: str | bytes) -> tuple[object | None, list[DocumentError]]:
    """Parse JSON text. Returns ``(document, [])`` or ``(None, errors)``.

    Errors point at the line and column of the problem. ``NaN``, ``Infinity``, numbers of
    more than 4000 digits and repeated keys in one object are rejected.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return None, [DocumentError("", f"Invalid JSON: the text is not UTF-8 ({exc.reason})")]
    if not isinstance(text, str):
        return None, [DocumentError("", f"Invalid JSON: expected text, not {type(text).__name__}")]
    text = text.removeprefix("\ufeff")
    try:
        document = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
            object_pairs_hook=_object_pairs,
        )
    except json.JSONDecodeError as exc:
        return None, [
            DocumentError("", f"Invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
        ]
    except _NonStandardNumber:
        for match in _CONSTANT.finditer(text):
            if match.group(1) or match.group(2):
                line, column = _line_column(text, match.start())
                what = (
                    f"{match.group(1)} is not a JSON number"
                    if match.group(1)
                    else f"number has more than {MAX_JSON_DIGITS} digits"
                )
                return None, [
                    DocumentError("", f"Invalid JSON at line {line} column {column}: {what}")
                ]
        return None, [DocumentError("", "Invalid JSON: non-standard number")]
    except RecursionError:
        return None, [DocumentError("", "Invalid JSON: the text is nested too deeply")]
    except ValueError as exc:
        return None, [DocumentError("", f"Invalid JSON: {exc}")]
    duplicates = sorted(set(_duplicate_key_errors(document, [])))
    if duplicates:
        return None, duplicates
    return document, []
