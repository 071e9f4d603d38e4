"""The VPPD JSON Schema (``schema.json``) and its validator."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from profiles_app.jsondoc.schema import schema_validator

SCHEMA_VERSION = "1.0"

_SCHEMA_PATH = Path(__file__).with_name("schema.json")


@functools.cache
def _schema() -> dict:
    with _SCHEMA_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)


def load_vppd_schema() -> dict:
    """The parsed ``schema.json`` (read once; each call returns a copy safe to change)."""
    return copy.deepcopy(_schema())


def vppd_schema() -> dict:
    """The parsed schema, shared: callers must not change it (``load_vppd_schema`` copies)."""
    return _schema()


@functools.cache
def vppd_validator() -> Any:
    return schema_validator(_schema())
