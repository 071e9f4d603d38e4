"""How the profiles API reads request bodies: with the same JSON parser as the pages and
``manage.py vppd`` (``profiles_app.jsondoc.parse_json_text``), so a body the CLI would
refuse (repeated keys, NaN, numbers of thousands of digits) is refused here too, with
the path of the offending field."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError
from rest_framework.parsers import JSONParser

from profiles_app.jsondoc import parse_json_text
from vmpersona.errors import field_error

MAX_JSON_DEPTH = 64
DOCUMENT_FIELD = "document"  # the request field holding a policy document


def request_path(body_pointer: str) -> str:
    """Where a problem at ``body_pointer`` is, in the words of the API's errors: a JSON
    pointer into the document (``/name``) below ``document``, else the request field
    (``change_note``, ``document``)."""
    prefix = "/" + DOCUMENT_FIELD
    if body_pointer.startswith(prefix + "/"):
        return body_pointer[len(prefix) :]
    return body_pointer.removeprefix("/")


def _numbers_and_depth(value: Any) -> Iterator[str]:
    """Problems json.loads lets through: overflowing floats, nesting too deep."""
    depth, level = 0, [value]
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            yield f"JSON nested more than {MAX_JSON_DEPTH} levels deep"
            return
        nxt: list = []
        for item in level:
            if isinstance(item, dict):
                nxt.extend(item.values())
            elif isinstance(item, list):
                nxt.extend(item)
            elif isinstance(item, float) and not math.isfinite(item):
                yield "a number is out of range"
                return
        level = nxt


class StrictJSONParser(JSONParser):
    """JSON only: no NaN/Infinity, no numbers that overflow, no repeated keys, bounded
    nesting. Problems are 400s listing each with its path."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", "utf-8")
        raw = stream.read() if stream is not None else b""
        try:
            text: str | bytes = (
                raw if encoding.lower() in ("utf-8", "utf8") else raw.decode(encoding)
            )
        except (UnicodeDecodeError, LookupError) as exc:
            raise ValidationError([field_error("", f"Invalid JSON: {exc}")]) from exc
        data, errors = parse_json_text(text)
        if errors:
            raise ValidationError([field_error(request_path(e.path), e.message) for e in errors])
        problems = list(_numbers_and_depth(data))
        if problems:
            raise ValidationError([field_error("", f"Invalid JSON: {p}") for p in problems])
        return data
