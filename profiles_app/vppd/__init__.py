"""The VPPD format, free of Django.

- ``schema.json`` / ``schema.py``: the JSON Schema and its validator;
- ``checks/``: the semantic rules a schema cannot express, one module per section;
- ``validation.py``: ``vppd_errors`` and ``parse_vppd_text``, the VPPD's entry points
  (the kind-agnostic machinery is ``profiles_app.jsondoc``);
- ``kind.py``: the VPPD registered as a policy kind (``profiles_app.kinds``): schema,
  checks, starter document, key order, where volume keys are written inline.
"""

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
