"""Validation of VPPD documents: JSON Schema plus the semantic rules a schema cannot express.

Every problem is a :class:`DocumentError` carrying the RFC 6901 JSON pointer of the
offending field and a human sentence. The functions here never raise on a bad document,
whatever its shape, and import nothing from Django so the CLI and tests can use them
anywhere.

The machinery is kind-agnostic and lives in ``profiles_app.jsondoc``; what is the
VPPD's own is its schema (``schema.py``, ``schema.json``) and its semantic checks
(``checks/``, one module per section).
"""

from __future__ import annotations

from collections.abc import Callable

from profiles_app.jsondoc import DocumentError, document_errors, parse_json_text
from profiles_app.vppd.checks import SEMANTIC_CHECKS
from profiles_app.vppd.checks.flags import ENVIRONMENT_FLAGS
from profiles_app.vppd.schema import SCHEMA_VERSION, load_vppd_schema, vppd_validator

__all__ = [
    "ENVIRONMENT_FLAGS",
    "SCHEMA_VERSION",
    "DocumentError",
    "load_vppd_schema",
    "parse_vppd_text",
    "vppd_errors",
]

# VPPDs are JSON text like any policy document.
parse_vppd_text = parse_json_text


def vppd_errors(
    document: object, *, key_ref_exists: Callable[[str], bool] | None = None
) -> list[DocumentError]:
    """Every problem of a VPPD document, sorted by path, without duplicates.

    Schema errors come first in spirit: a section's semantic rules only run when that
    section passed the schema. ``key_ref_exists`` (optional) tells whether a named
    volume key is held; exceptions it raises propagate.
    """
    return document_errors(
        document,
        validator=vppd_validator(),
        checks=SEMANTIC_CHECKS,
        key_ref_exists=key_ref_exists,
    )
