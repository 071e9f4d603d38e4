"""The scheduling policy's JSON Schema (``schema.json``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

SCHEMA_VERSION = "1.0"

_SCHEMA_PATH = Path(__file__).with_name("schema.json")


@functools.cache
def scheduling_schema() -> dict:
    """The parsed schema, shared: callers must not change it."""
    with _SCHEMA_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)
