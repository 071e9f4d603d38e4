"""Document helpers shared by every interface: validation as Django errors, canonical
hashing, and keeping inline secrets (volume keys) out of anything stored or shown.

Whatever depends on the document's kind (schema, semantic checks, key order, where
secrets are) is asked of the kind registry (``profiles_app.kinds``) by the policy's
kind. Every error carries the JSON pointer of the offending field in ``params["path"]``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

from django.core.exceptions import ValidationError

from profiles_app.jsondoc import DocumentError, parse_json_text
from profiles_app.kinds import InlineSecret, get_kind

REDACTED = "[redacted]"


def canonical_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(document: Any) -> str:
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def ordered_document(document: Any, *, kind: str) -> Any:
    """The document with its top-level keys in its kind's reading order (unknown keys last)."""
    return get_kind(kind).ordered(document)


def pretty_json(document: Any, *, kind: str) -> str:
    return json.dumps(ordered_document(document, kind=kind), indent=2, ensure_ascii=False)


def inline_secrets(document: Any, *, kind: str) -> Iterator[InlineSecret]:
    """Every secret written inline in the document (for a VPPD, its volume keys)."""
    return get_kind(kind).inline_secrets(document)


def inline_key_values(document: Any, *, kind: str) -> list[str]:
    return [
        str(secret.holder[secret.field])
        for secret in inline_secrets(document, kind=kind)
        if secret.holder.get(secret.field)
    ]


def redact_document(document: Any, *, kind: str) -> Any:
    """A copy with every inline secret replaced by a marker (for echoing input back)."""
    redacted = copy.deepcopy(document)
    for secret in inline_secrets(redacted, kind=kind):
        secret.holder[secret.field] = REDACTED
    return redacted


def _scrub(message: str, secrets_: list[str]) -> str:
    for value in secrets_:
        if value and len(value) >= 4:
            message = message.replace(value, REDACTED)
    return message


def errors_to_validation_error(
    errors: list[DocumentError], *, secrets_: Sequence[str] = ()
) -> ValidationError:
    return ValidationError(
        [
            ValidationError(
                "%(path)s: %(message)s" if e.path else "%(message)s",
                code="invalid_document",
                params={"path": e.path, "message": _scrub(e.message, list(secrets_))},
            )
            for e in errors
        ]
    )


def document_errors(
    document: Any, *, kind: str, check_key_refs: bool = True
) -> list[DocumentError]:
    """All problems of a document of ``kind``: schema, semantics and (optionally) unknown
    key_refs."""
    key_ref_exists = None
    if check_key_refs:
        from profiles_app.selectors import volume_key_exists

        key_ref_exists = volume_key_exists
    return get_kind(kind).errors(document, key_ref_exists=key_ref_exists)


def validate_document(document: Any, *, kind: str, check_key_refs: bool = True) -> None:
    """Raise ``ValidationError`` (one entry per problem, each with its path) if invalid."""
    errors = document_errors(document, kind=kind, check_key_refs=check_key_refs)
    if errors:
        raise errors_to_validation_error(errors, secrets_=inline_key_values(document, kind=kind))


def parse_document_text(text: str) -> Any:
    """Parse JSON text into a document; raise ``ValidationError`` with line/column."""
    document, errors = parse_json_text(text)
    if errors:
        raise errors_to_validation_error(errors)
    return document
