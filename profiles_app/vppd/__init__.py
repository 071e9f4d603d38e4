"""The VPPD format: JSON Schema (``schema.json``) and validation, free of Django."""

from profiles_app.vppd.validation import (
    ENVIRONMENT_FLAGS,
    SCHEMA_VERSION,
    DocumentError,
    load_vppd_schema,
    parse_vppd_text,
    vppd_errors,
)

__all__ = [
    "ENVIRONMENT_FLAGS",
    "SCHEMA_VERSION",
    "DocumentError",
    "load_vppd_schema",
    "parse_vppd_text",
    "vppd_errors",
]
