"""The policy-kind registry: a second kind validates through the same entry points as the
VPPD without touching VPPD code, and the VPPD behaves as before."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from profiles_app import selectors
from profiles_app.documents import (
    REDACTED,
    document_errors,
    inline_key_values,
    pretty_json,
    redact_document,
    validate_document,
)
from profiles_app.jsondoc import DocumentError
from profiles_app.kinds import (
    DocumentKind,
    InlineSecret,
    UnknownKind,
    get_kind,
    register,
    registered_kinds,
)
from profiles_app.models import PolicyKind
from profiles_app.services import versions as version_services
from profiles_app.vppd import vppd_errors
from vmpersona.errors import error_list

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# A tiny scheduling policy: a name and windows whose start must come before their end.
TOY_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "windows"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
        "token": {"type": "string"},
        "key_ref": {"type": "string"},
        "windows": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["start", "end"],
                "properties": {
                    "start": {"type": "integer", "minimum": 0, "maximum": 23},
                    "end": {"type": "integer", "minimum": 0, "maximum": 24},
                },
            },
        },
    },
}


def _check_windows(doc: dict, **_) -> Iterator[DocumentError]:
    for index, window in enumerate(doc.get("windows", [])):
        if window["start"] >= window["end"]:
            yield DocumentError(f"/windows/{index}/end", "must be after start")


def _token(document) -> Iterator[InlineSecret]:
    if isinstance(document, dict) and "token" in document:
        yield InlineSecret(holder=document, label="token", what="the token", field="token")


@pytest.fixture
def scheduling():
    """A toy in place of the scheduling kind, for this test only (the real one back after)."""
    real = get_kind(PolicyKind.SCHEDULING)
    spec = register(
        DocumentKind(
            kind=PolicyKind.SCHEDULING,
            schema_loader=lambda: TOY_SCHEMA,
            checks=(("windows", _check_windows),),
            schema_path="/api/v1/schemas/scheduling/",
            openapi_component="SchedulingPolicy",
            top_level_order=("name", "windows"),
            starter_document={"name": "new-policy", "windows": []},
            inline_secrets=_token,
        ),
        replace=True,
    )
    yield spec
    register(real, replace=True)


def toy(**overrides) -> dict:
    return {"name": "nightly", "windows": [{"start": 1, "end": 5}], **overrides}


# --------------------------------------------------------------------------- a second kind


def test_a_second_kind_validates_through_the_same_entry_point(scheduling):
    kind = PolicyKind.SCHEDULING
    assert document_errors(toy(), kind=kind, check_key_refs=False) == []
    validate_document(toy(), kind=kind, check_key_refs=False)
    assert scheduling.errors(scheduling.starter()) == []

    bad = toy(windows=[{"start": 1, "end": 5}, {"start": 9, "end": 3}, {"start": 30, "end": 2}])
    with pytest.raises(ValidationError) as caught:
        validate_document(bad, kind=kind, check_key_refs=False)
    # The schema's and the kind's own semantic errors, each at its JSON pointer; the
    # semantic check is skipped while its section has schema errors.
    assert error_list(caught.value) == [
        {"path": "/windows/2/start", "message": "must be at most 23; got 30"}
    ]
    good_schema_bad_semantics = toy(windows=[{"start": 9, "end": 3}])
    assert error_list(
        pytest.raises(
            ValidationError,
            validate_document,
            good_schema_bad_semantics,
            kind=kind,
            check_key_refs=False,
        ).value
    ) == [{"path": "/windows/0/end", "message": "must be after start"}]
    # VPPD rules do not apply to it, nor the other way round.
    assert document_errors({"name": "x", "windows": []}, kind=PolicyKind.VPPD, check_key_refs=False)
    assert document_errors(toy(vcpus=2), kind=kind, check_key_refs=False) == [
        DocumentError(
            "/vcpus", "unknown field 'vcpus'; expected one of key_ref, name, token, windows"
        )
    ]


def test_a_second_kind_brings_its_own_order_and_secrets(scheduling):
    kind = PolicyKind.SCHEDULING
    document = {"windows": [], "token": "s3cret-token", "name": "nightly"}
    assert list(json.loads(pretty_json(document, kind=kind))) == ["name", "windows", "token"]
    assert redact_document(document, kind=kind)["token"] == REDACTED
    assert inline_key_values(document, kind=kind) == ["s3cret-token"]
    # A VPPD has no top-level token: nothing to redact there.
    assert redact_document(document, kind=PolicyKind.VPPD) == document


def test_policies_of_two_kinds_may_share_a_name(scheduling, users, make_document):
    """Drafts, lookups and secrets of the second kind use the same services and selectors;
    a lookup by name always names the kind."""
    vppd = version_services.policy_create(user=users["author"], document=make_document("nightly"))
    other = version_services.policy_create(
        user=users["author"],
        document=toy(token="a-long-secret"),
        kind=PolicyKind.SCHEDULING,
    )
    assert other.policy.kind == PolicyKind.SCHEDULING
    assert "token" not in other.document and other.document["key_ref"].startswith("nightly-token")
    assert selectors.profile_get(kind=PolicyKind.SCHEDULING, name="nightly") == other.policy
    assert selectors.profile_get(kind=PolicyKind.VPPD, name="nightly") == vppd.policy
    assert selectors.version_by_label("nightly@1", kind=PolicyKind.SCHEDULING) == other
    assert list(selectors.profile_list(kind=PolicyKind.SCHEDULING)) == [other.policy]

    with pytest.raises(ValidationError) as caught:
        version_services.version_create_draft(
            user=users["author"],
            policy=other.policy,
            document=toy(windows=[{"start": 5, "end": 1}]),
        )
    assert error_list(caught.value) == [
        {"path": "/windows/0/end", "message": "must be after start"}
    ]


def test_unknown_and_duplicate_kinds_are_refused():
    with pytest.raises(UnknownKind):
        get_kind("no-such-kind")
    with pytest.raises(ValueError, match="already registered"):
        register(get_kind(PolicyKind.VPPD))


# --------------------------------------------------------------------------- the VPPD


def test_vppd_registers_first():
    assert registered_kinds()[0] == PolicyKind.VPPD
    spec = get_kind(PolicyKind.VPPD)
    assert spec.openapi_component == "VPPD" and spec.schema_path == "/api/v1/schemas/vppd/"
    assert spec.errors(spec.starter()) == []


@pytest.mark.parametrize("example", ["web-server", "database", "dev-workstation"])
def test_vppd_through_the_registry_is_vppd_errors(example):
    spec = get_kind(PolicyKind.VPPD)
    document = json.loads((EXAMPLES / f"{example}.json").read_text())
    broken = {
        **document,
        "execution_flags": ["production"],
        "resource_allocation": {"vcpus": 0, "memory_mib": 1},
        "surprise": 1,
    }
    for doc in (document, broken, [], {"name": 1}):
        assert spec.errors(doc) == vppd_errors(doc)
        assert spec.errors(doc, key_ref_exists=lambda ref: False) == vppd_errors(
            doc, key_ref_exists=lambda ref: False
        )
    assert vppd_errors(broken)


def test_vppd_order_and_volume_keys_are_unchanged(make_document):
    document = make_document("vault", fixes=[], description="d")
    document["data_volume_definitions"] = [
        {
            "name": "data",
            "size_gib": 1,
            "mount_point": "/srv",
            "filesystem": "ext4",
            "encryption": {"enabled": True, "key": "correct-horse-battery"},
        }
    ]
    shown = json.loads(pretty_json(document, kind=PolicyKind.VPPD))
    assert list(shown)[:5] == [
        "schema_version",
        "name",
        "description",
        "base_image_id",
        "execution_flags",
    ]
    assert list(shown)[-2:] == ["data_volume_definitions", "fixes"]
    redacted = redact_document(document, kind=PolicyKind.VPPD)
    assert redacted["data_volume_definitions"][0]["encryption"]["key"] == REDACTED
    assert inline_key_values(document, kind=PolicyKind.VPPD) == ["correct-horse-battery"]


GENERIC_MODULES = [
    "profiles_app/documents.py",
    "profiles_app/selectors.py",
    "profiles_app/diff.py",
    "profiles_app/forms.py",
    "profiles_app/services/versions.py",
    "profiles_app/api/serializers.py",
    "profiles_app/api/openapi.py",
    "profiles_app/api/views.py",
    "profiles_app/management/commands/vppd.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "profiles_app/views").glob("*.py")),
]


@pytest.mark.parametrize("module", GENERIC_MODULES)
def test_generic_code_asks_the_registry_instead_of_importing_vppd(module):
    tree = ast.parse((ROOT / module).read_text())
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    assert not [name for name in imported if name.startswith("profiles_app.vppd")]
