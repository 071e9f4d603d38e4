"""JSON Schema (draft 2020-12) validation with readable messages.

A schema may mark a subschema with ``x-error-message`` (used instead of the generic
message for any failure of that subschema's own keywords) and a pattern with
``x-pattern-hint`` (what a valid value looks like).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from profiles_app.jsondoc.errors import DocumentError, escape, json_type, pointer, show


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    # JSON Schema patterns are ECMA-262: "$" is the very end of the string. Python's "$"
    # also matches before a trailing newline, which would let "web\n" pass as a slug.
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


_Validator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


_TYPE_NAMES = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}


_FORMAT_NAMES = {
    "ipv4": "a valid IPv4 address such as 10.0.0.1",
    "regex": "a valid regular expression",
}


def _or_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _translate(error: ValidationError) -> list[DocumentError]:
    """Turn one jsonschema error into clear messages with pointers."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    path = pointer(error.absolute_path)
    instance = error.instance
    keyword = error.validator
    value = error.validator_value

    custom = schema.get("x-error-message")
    if isinstance(custom, str) and keyword is not None:
        return [DocumentError(path, custom)]

    if keyword in ("oneOf", "anyOf") and error.context:
        best = best_match(error.context)
        if best is not None:
            return _translate(best)

    secret = bool(schema.get("writeOnly"))
    shown = "the value" if secret else show(instance)

    if keyword is None:
        return [DocumentError(path, "is not allowed here")]
    if keyword == "type":
        wanted = [value] if isinstance(value, str) else list(value)
        names = [_TYPE_NAMES.get(str(t), str(t)) for t in wanted]
        return [DocumentError(path, f"must be {_or_list(names)}, not {json_type(instance)}")]
    if keyword == "required":
        present = instance if isinstance(instance, dict) else {}
        return [
            DocumentError(path, f"missing required field '{name}'")
            for name in value
            if name not in present
        ]
    if keyword == "additionalProperties":
        return list(_unknown_fields(path, schema, instance))
    if keyword == "dependentRequired":
        present = instance if isinstance(instance, dict) else {}
        return [
            DocumentError(path, f"'{name}' requires '{needed}'")
            for name, deps in value.items()
            if name in present
            for needed in deps
            if needed not in present
        ]
    if keyword == "enum":
        return [
            DocumentError(path, f"must be one of {', '.join(show(v) for v in value)}; got {shown}")
        ]
    if keyword == "const":
        return [DocumentError(path, f"must be {show(value)}")]
    if keyword == "pattern":
        hint = schema.get("x-pattern-hint")
        expected = hint if isinstance(hint, str) else f"a value matching {value}"
        return [DocumentError(path, f"{shown} is not valid: expected {expected}")]
    if keyword == "format":
        return [DocumentError(path, _format_message(value, instance, shown))]
    if keyword == "minLength":
        if value == 1:
            return [DocumentError(path, "must not be empty")]
        return [DocumentError(path, f"must be at least {value} characters long")]
    if keyword == "maxLength":
        return [DocumentError(path, f"must be at most {value} characters long")]
    if keyword == "minimum":
        return [DocumentError(path, f"must be at least {value}; got {shown}")]
    if keyword == "maximum":
        return [DocumentError(path, f"must be at most {value}; got {shown}")]
    if keyword == "exclusiveMinimum":
        return [DocumentError(path, f"must be greater than {value}; got {shown}")]
    if keyword == "exclusiveMaximum":
        return [DocumentError(path, f"must be less than {value}; got {shown}")]
    if keyword == "minItems":
        if value == 1:
            return [DocumentError(path, "must not be empty")]
        return [DocumentError(path, f"must have at least {value} items")]
    if keyword == "maxItems":
        return [DocumentError(path, f"must have at most {value} items")]
    if keyword == "uniqueItems":
        return _duplicate_items(path, instance)
    if keyword == "minProperties":
        if value == 1:
            return [DocumentError(path, "must not be empty")]
        return [DocumentError(path, f"must have at least {value} fields")]
    if keyword == "maxProperties":
        return [DocumentError(path, f"must have at most {value} fields")]
    if keyword == "not":
        return [DocumentError(path, "is not allowed here")]
    if keyword == "oneOf":
        return [DocumentError(path, "matches more than one of the allowed forms")]
    message = error.message
    return [DocumentError(path, message if len(message) <= 200 else message[:197] + "...")]


def _unknown_fields(path: str, schema: dict, instance: Any) -> Iterator[DocumentError]:
    if not isinstance(instance, dict):
        return
    known = schema.get("properties", {})
    known = sorted(known) if isinstance(known, dict) else []
    patterns = schema.get("patternProperties", {})
    for key in instance:
        if key in known or any(re.search(p, key) for p in patterns):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
        if close:
            hint = f"; did you mean '{close[0]}'?"
        elif known:
            hint = f"; expected one of {', '.join(known)}"
        else:
            hint = ""
        shown = key if len(key) <= 60 else key[:57] + "..."
        yield DocumentError(f"{path}/{escape(key)}", f"unknown field '{shown}'{hint}")


def _duplicate_items(path: str, instance: Any) -> list[DocumentError]:
    seen: dict[str, int] = {}
    found = []
    for index, item in enumerate(instance if isinstance(instance, list) else []):
        key = show(item, limit=10**6)
        if key in seen:
            found.append(
                DocumentError(f"{path}/{index}", f"duplicate of item {seen[key]} ({show(item)})")
            )
        else:
            seen[key] = index
    return found or [DocumentError(path, "must not contain duplicate items")]


def _format_message(fmt: str, instance: Any, shown: str) -> str:
    if fmt == "regex" and isinstance(instance, str):
        try:
            re.compile(instance)
        except re.error as exc:
            return f"{shown} is not a valid regular expression: {exc}"
    return f"{shown} is not {_FORMAT_NAMES.get(fmt, f'a valid {fmt}')}"


def schema_validator(schema: Mapping[str, Any]) -> Any:
    """A validator of ``schema`` with ECMA-262 patterns and format checks."""
    return _Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(validator: Any, document: Any) -> list[DocumentError]:
    """Every schema problem of ``document`` as clear messages with pointers."""
    errors: list[DocumentError] = []
    for error in validator.iter_errors(document):
        errors.extend(_translate(error))
    return errors
