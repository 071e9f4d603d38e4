"""Document helpers shared by every interface: validation as Django errors, canonical
hashing, and keeping volume keys out of anything stored or shown.

Every error carries the JSON pointer of the offending field in ``params["path"]``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from profiles_app.vppd.validation import DocumentError

REDACTED = "[redacted]"


def canonical_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(document: Any) -> str:
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


# The order people read a VPPD in; databases that store JSON as jsonb forget key order.
TOP_LEVEL_ORDER = (
    "$schema",
    "schema_version",
    "name",
    "description",
    "base_image_id",
    "execution_flags",
    "resource_allocation",
    "application_manifest",
    "runtime_environment",
    "data_volume_definitions",
    "network_configuration",
    "security_profile",
    "monitoring_agents",
    "fixes",
)


def ordered_document(document: Any) -> Any:
    """The document with its top-level keys in reading order (unknown keys last)."""
    if not isinstance(document, dict):
        return document
    rank = {key: i for i, key in enumerate(TOP_LEVEL_ORDER)}
    return {
        k: document[k] for k in sorted(document, key=lambda k: (rank.get(k, len(rank)), str(k)))
    }


def pretty_json(document: Any) -> str:
    return json.dumps(ordered_document(document), indent=2, ensure_ascii=False)


def iter_inline_keys(document: Any) -> Iterator[tuple[int, dict]]:
    """Yield (volume index, encryption object) for every inline ``key`` in a VPPD."""
    if not isinstance(document, dict):
        return
    volumes = document.get("data_volume_definitions")
    if not isinstance(volumes, list):
        return
    for index, volume in enumerate(volumes):
        if not isinstance(volume, dict):
            continue
        encryption = volume.get("encryption")
        if isinstance(encryption, dict) and "key" in encryption:
            yield index, encryption


def inline_key_values(document: Any) -> list[str]:
    return [str(enc["key"]) for _, enc in iter_inline_keys(document) if enc.get("key")]


def redact_document(document: Any) -> Any:
    """A copy with every inline key replaced by a marker (for echoing input back)."""
    redacted = copy.deepcopy(document)
    for _, encryption in iter_inline_keys(redacted):
        encryption["key"] = REDACTED
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


def document_errors(document: Any, *, check_key_refs: bool = True) -> list[DocumentError]:
    """All problems of a VPPD: schema, semantics and (optionally) unknown key_refs."""
    from profiles_app.vppd.validation import vppd_errors

    key_ref_exists = None
    if check_key_refs:
        from profiles_app.services.keys import volume_key_exists

        key_ref_exists = volume_key_exists
    return vppd_errors(document, key_ref_exists=key_ref_exists)


def validate_document(document: Any, *, check_key_refs: bool = True) -> None:
    """Raise ``ValidationError`` (one entry per problem, each with its path) if invalid."""
    errors = document_errors(document, check_key_refs=check_key_refs)
    if errors:
        raise errors_to_validation_error(errors, secrets_=inline_key_values(document))


def parse_document_text(text: str) -> Any:
    """Parse JSON text into a document; raise ``ValidationError`` with line/column."""
    from profiles_app.vppd.validation import parse_vppd_text

    document, errors = parse_vppd_text(text)
    if errors:
        raise errors_to_validation_error(errors)
    return document


def error_list(exc: ValidationError) -> list[dict[str, str]]:
    """``[{"path": ..., "message": ...}]`` for pages, API and CLI alike."""
    items = []
    for err in (
        exc.error_list
        if not hasattr(exc, "error_dict")
        else [e for errs in exc.error_dict.values() for e in errs]
    ):
        params = err.params or {}
        message = params.get("message")
        if message is None:
            message = err.message % params if params else err.message
        items.append({"path": params.get("path", ""), "message": str(message)})
    return items
