"""JSON documents checked against a JSON Schema plus semantic rules, free of Django.

Kind-agnostic: every policy kind (see ``profiles_app.kinds``) validates through
``document_errors`` with its own schema and checks. Every problem is a
:class:`DocumentError` carrying the RFC 6901 JSON pointer of the offending field and a
human sentence; nothing here raises on a bad document, whatever its shape.

- ``errors``: the error type and the pointer and message helpers;
- ``parsing``: JSON text to a document, with line and column on failure;
- ``sanitize``: a plain JSON copy of any Python value, with errors for what is not JSON;
- ``schema``: JSON Schema validation with readable messages;
- ``checking``: the entry point running schema and semantic checks.
"""

from profiles_app.jsondoc.checking import Check, document_errors
from profiles_app.jsondoc.errors import DocumentError
from profiles_app.jsondoc.parsing import parse_json_text
from profiles_app.jsondoc.schema import schema_validator

__all__ = ["Check", "DocumentError", "document_errors", "parse_json_text", "schema_validator"]
