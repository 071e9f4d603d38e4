"""A plain JSON copy of a document, and errors for whatever is not plain JSON."""

from __future__ import annotations

import math
from typing import Any

from profiles_app.jsondoc.errors import DocumentError, pointer, printable, text_problem

MAX_DEPTH = 64  # deepest nesting accepted anywhere, free-form maps included
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def sanitize(document: Any) -> tuple[Any, list[DocumentError]]:
    """A plain JSON copy of the document, and errors for whatever is not plain JSON.

    Values that are not JSON (sets, objects, non-finite floats, integers beyond 64 bits,
    nesting deeper than ``MAX_DEPTH``, cycles) become ``None`` in the copy. Text that no
    page, response or database can hold (a lone UTF-16 surrogate, a NUL) is an error at
    its pointer and is made printable in the copy, so no later message can echo it.
    """
    errors: list[DocumentError] = []

    def convert(value: Any, parts: list[object], depth: int) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is None:
                return str(value)
            errors.append(DocumentError(pointer(parts), problem))
            return printable(value).replace("\x00", "\\u0000")
        if isinstance(value, int):
            if _INT_MIN <= value <= _INT_MAX:
                return int(value)
            errors.append(
                DocumentError(pointer(parts), "number is too large: integers must fit in 64 bits")
            )
            return None
        if isinstance(value, float):
            if math.isfinite(value):
                return float(value)
            errors.append(DocumentError(pointer(parts), "must be a finite number"))
            return None
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                errors.append(
                    DocumentError(
                        pointer(parts), f"is nested too deeply (more than {MAX_DEPTH} levels)"
                    )
                )
                return None
            if isinstance(value, list):
                return [
                    convert(item, [*parts, index], depth + 1) for index, item in enumerate(value)
                ]
            out: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    errors.append(
                        DocumentError(
                            pointer(parts),
                            f"has a key that is not a string ({type(key).__name__}); JSON keys are strings",
                        )
                    )
                    continue
                problem = text_problem(key)
                if problem is not None:
                    errors.append(DocumentError(pointer([*parts, key]), f"this key {problem}"))
                    continue
                out[str(key)] = convert(item, [*parts, key], depth + 1)
            return out
        errors.append(
            DocumentError(pointer(parts), f"is not a JSON value ({type(value).__name__})")
        )
        return None

    return convert(document, [], 0), errors
