"""Every problem of a document: what is not JSON, the schema, then the semantic checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from profiles_app.jsondoc.errors import DocumentError, json_type
from profiles_app.jsondoc.sanitize import sanitize
from profiles_app.jsondoc.schema import schema_errors as _schema_errors

# A semantic check: the sanitized document (and context such as ``key_ref_exists``)
# in, problems out. It is named by the top-level section it checks.
Check = Callable[..., Iterator[DocumentError]]


def document_errors(
    document: object,
    *,
    validator: Any,
    checks: Iterable[tuple[str, Check]] = (),
    **context: Any,
) -> list[DocumentError]:
    """Every problem of ``document``, sorted by path, without duplicates.

    Schema errors come first in spirit: a section's semantic check only runs when that
    section passed the schema. ``context`` is passed to every check; exceptions the
    checks raise propagate.
    """
    if not isinstance(document, dict):
        return [DocumentError("", f"the document must be a JSON object, not {json_type(document)}")]
    clean, errors = sanitize(document)
    bad_paths = {error.path for error in errors}
    try:
        schema_errors = _schema_errors(validator, clean)
    except RecursionError:  # pragma: no cover - nesting is capped by sanitize
        schema_errors = [DocumentError("", "the document is nested too deeply")]
    errors.extend(error for error in schema_errors if error.path not in bad_paths)

    for section, check in checks:
        prefix = "/" + section
        if any(e.path == prefix or e.path.startswith(prefix + "/") for e in errors):
            continue
        errors.extend(check(clean, **context))
    return sorted(set(errors))
