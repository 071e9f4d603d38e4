"""The registry of policy kinds: what the generic policy store needs to know per kind.

A policy (``Policy.kind``) is a versioned, approvable JSON document; drafts, review,
approval, history and diff are the same for every kind. What differs is registered here
once per kind, as a :class:`DocumentKind`: its JSON Schema, its semantic checks, the
document a new policy starts from, the order people read its top-level keys in, where
it holds secrets, and where its schema is served. Generic code (``documents``, the
services, selectors, pages, API and CLI) asks ``get_kind(policy.kind)``; it never
imports a kind's package. The VPPD registers first, from ``profiles_app.vppd.kind``.

Free of Django, like the kinds' own packages.
"""

from __future__ import annotations

import copy
import functools
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from profiles_app.jsondoc import Check, DocumentError, document_errors, schema_validator

# Modules that register the built-in kinds when imported, in registration order.
BUILTIN_KINDS = ("profiles_app.vppd.kind", "profiles_app.scheduling.kind")


class UnknownKind(LookupError):
    pass


@dataclass(frozen=True)
class InlineSecret:
    """A secret written inline in a document, in ``holder[field]``.

    The services move it into an encrypted store and leave ``holder[ref_field]`` naming
    it; ``label`` becomes part of the stored key's name, ``what`` says what it protects.
    """

    holder: dict
    label: str
    what: str
    field: str = "key"
    ref_field: str = "key_ref"


def _no_secrets(document: Any) -> Iterator[InlineSecret]:
    return iter(())


@dataclass(frozen=True)
class DocumentKind:
    kind: str  # the ``PolicyKind`` value
    schema_loader: Callable[[], Mapping[str, Any]]  # the parsed schema, shared: never changed
    checks: Sequence[tuple[str, Check]] = ()  # (top-level section, check), in order
    schema_path: str = ""  # where the API serves the JSON Schema
    openapi_component: str = ""  # the schema's component name in the API docs
    top_level_order: Sequence[str] = ()  # reading order of top-level keys; others last
    starter_document: Mapping[str, Any] = field(default_factory=dict)
    inline_secrets: Callable[[Any], Iterator[InlineSecret]] = _no_secrets
    flag_choices: Sequence[str] = ()  # values the list filters offer for ``flag``

    def schema(self) -> dict:
        """A copy of the JSON Schema, safe to change."""
        return copy.deepcopy(dict(self.schema_loader()))

    @functools.cached_property
    def validator(self) -> Any:
        return schema_validator(self.schema_loader())

    def errors(
        self, document: object, *, key_ref_exists: Callable[[str], bool] | None = None
    ) -> list[DocumentError]:
        """Every problem of ``document``: schema then semantic checks, sorted by path."""
        return document_errors(
            document, validator=self.validator, checks=self.checks, key_ref_exists=key_ref_exists
        )

    def starter(self) -> dict:
        """A fresh copy of the document a new policy of this kind starts from."""
        return copy.deepcopy(dict(self.starter_document))

    def ordered(self, document: Any) -> Any:
        """The document with its top-level keys in reading order (unknown keys last)."""
        if not isinstance(document, dict):
            return document
        rank = {key: i for i, key in enumerate(self.top_level_order)}
        return {
            k: document[k] for k in sorted(document, key=lambda k: (rank.get(k, len(rank)), str(k)))
        }

    def section_help(self) -> list[tuple[str, str]]:
        """(field, first sentence of its description) of each top-level field."""
        properties = self.schema_loader().get("properties", {})
        return [
            (key, str(spec.get("description") or spec.get("title", "")).split(". ")[0].rstrip("."))
            for key, spec in properties.items()
            if not key.startswith("$")
        ]


_REGISTRY: dict[str, DocumentKind] = {}
_loaded = False


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_KINDS:
            importlib.import_module(module)


def register(spec: DocumentKind, *, replace: bool = False) -> DocumentKind:
    """Add a kind; registering one twice is an error unless ``replace``."""
    if spec.kind in _REGISTRY and not replace:
        raise ValueError(f"policy kind {spec.kind!r} is already registered")
    _REGISTRY[spec.kind] = spec
    return spec


def unregister(kind: str) -> None:
    _REGISTRY.pop(kind, None)


def get_kind(kind: str) -> DocumentKind:
    """The registered kind named ``kind`` (a ``PolicyKind`` value)."""
    _load_builtins()
    try:
        return _REGISTRY[str(kind)]
    except KeyError:
        raise UnknownKind(f"no policy kind {kind!r} is registered") from None


def registered_kinds() -> tuple[str, ...]:
    _load_builtins()
    return tuple(_REGISTRY)
