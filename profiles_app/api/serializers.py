"""Request and response shapes of the profiles API.

Serializers only parse and present: every rule (roles, states, document validity) is
enforced by the services, so the API, the pages, the admin and the CLI agree.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from profiles_app.models import VersionStatus
from profiles_app.vppd.validation import load_vppd_schema

API_NS = "profiles-api"
MAX_NUMBER = 2_147_483_647  # version numbers are stored as positive 32-bit integers

# --- The VPPD document ----------------------------------------------------------------


class VppdDocumentField(serializers.JSONField):
    """A VPPD as JSON. Parsing accepts any JSON value; the services validate it."""


VPPD_COMPONENT = "VPPD"

# OpenAPI 3.0 schema objects accept a subset of JSON Schema: these keywords are kept as
# they are; a few others are translated below and the rest (conditionals, dependent
# schemas, ...) are dropped from the API docs. The full contract is the JSON Schema
# served at /api/v1/schemas/vppd/.
_OAS_KEYWORDS = {
    "title",
    "description",
    "default",
    "enum",
    "format",
    "pattern",
    "multipleOf",
    "maximum",
    "minimum",
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "readOnly",
    "writeOnly",
    "deprecated",
}
_OAS_TYPES = {"array", "boolean", "integer", "number", "object", "string"}


def _component_name(def_name: str) -> str:
    return f"{VPPD_COMPONENT}_" + re.sub(r"[^A-Za-z0-9._-]", "_", def_name)


def _ref(ref: str) -> dict:
    for prefix in ("#/$defs/", "#/definitions/"):
        if ref.startswith(prefix):
            name = ref[len(prefix) :].replace("~1", "/").replace("~0", "~")
            return {"$ref": f"#/components/schemas/{_component_name(name)}"}
    if ref == "#":
        return {"$ref": f"#/components/schemas/{VPPD_COMPONENT}"}
    return {}  # an external or unusual reference: document it as "any value"


def _keep_enum_inline(schema: dict) -> dict:
    """Wrap a property's ``enum`` in ``allOf`` so it stays where the VPPD defines it.

    drf-spectacular lifts enums of component properties into shared ``<Name>Enum``
    components named after the property; the VPPD reuses property names (``type``,
    ``method``, ``kind``) with different choices, and mixes value types in some enums.
    """
    target = schema.get("items") if schema.get("type") == "array" else schema
    if isinstance(target, dict) and "enum" in target:
        inner = {k: target.pop(k) for k in ("type", "enum") if k in target}
        target["allOf"] = [inner, *target.get("allOf", [])]
    return schema


def openapi_schema_from_json_schema(schema: Any) -> dict:
    """Translate a JSON Schema (draft 2020-12 / 7) node into an OpenAPI 3.0 schema object."""
    if schema is True or not isinstance(schema, dict):
        return {}
    if schema is False:  # pragma: no cover - "nothing allowed"; isinstance above catches bools
        return {"not": {}}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _OAS_KEYWORDS or key.startswith("x-"):
            out[key] = value
    if "required" in out and not out["required"]:
        del out["required"]
    if "$ref" in schema:
        ref = _ref(schema["$ref"])
        if not out:
            return ref
        if ref:
            out["allOf"] = [ref, *out.get("allOf", [])]
    if "const" in schema:
        out["enum"] = [schema["const"]]
    if "examples" in schema and isinstance(schema["examples"], list) and schema["examples"]:
        out["example"] = schema["examples"][0]
    elif "example" in schema:
        out["example"] = schema["example"]
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = schema.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[inclusive] = value
            out[bound] = True
        elif value is True and inclusive in schema:
            out[bound] = True
    types = schema.get("type")
    if isinstance(types, str):
        types = [types]
    if isinstance(types, list):
        nullable = "null" in types
        real = [t for t in types if t in _OAS_TYPES]
        if nullable:
            out["nullable"] = True
        if len(real) == 1:
            out["type"] = real[0]
        elif len(real) > 1:
            out.setdefault("anyOf", []).extend({"type": t} for t in real)
    if "properties" in schema and isinstance(schema["properties"], dict):
        out["properties"] = {
            name: _keep_enum_inline(openapi_schema_from_json_schema(sub))
            for name, sub in schema["properties"].items()
        }
    additional = schema.get("additionalProperties")
    if isinstance(additional, bool):
        out["additionalProperties"] = additional
    elif isinstance(additional, dict):
        out["additionalProperties"] = openapi_schema_from_json_schema(additional)
    elif (
        isinstance(schema.get("patternProperties"), dict) and len(schema["patternProperties"]) == 1
    ):
        (pattern_schema,) = schema["patternProperties"].values()
        out["additionalProperties"] = openapi_schema_from_json_schema(pattern_schema)
    items = schema.get("items")
    if isinstance(items, dict | bool):
        out["items"] = openapi_schema_from_json_schema(items)
    elif out.get("type") == "array":
        out["items"] = {}
    for combinator in ("allOf", "anyOf", "oneOf"):
        if isinstance(schema.get(combinator), list):
            subs = [openapi_schema_from_json_schema(sub) for sub in schema[combinator]]
            if combinator == "allOf":
                subs = [sub for sub in subs if sub]  # conditionals that translate to nothing
            elif not all(subs):
                continue  # an alternative we cannot express: document no restriction
            if subs or out.get(combinator):
                out[combinator] = [*out.get(combinator, []), *subs]
    if isinstance(schema.get("not"), dict):
        negated = openapi_schema_from_json_schema(schema["not"])
        if negated:
            out["not"] = negated
    return out


def vppd_openapi_components() -> dict[str, dict]:
    """The VPPD JSON Schema as OpenAPI components: ``VPPD`` plus one per ``$defs`` entry."""
    schema = copy.deepcopy(load_vppd_schema())  # never share objects with the cached schema
    components = {}
    for section in ("$defs", "definitions"):
        for name, sub in (schema.get(section) or {}).items():
            components[_component_name(name)] = openapi_schema_from_json_schema(sub)
    root = openapi_schema_from_json_schema(schema)
    root["description"] = (
        (root.get("description", "") + "\n\n").lstrip()
        + "The authoritative JSON Schema (draft 2020-12), including the conditional rules "
        "OpenAPI 3.0 cannot express, is served at `/api/v1/schemas/vppd/`."
    )
    components[VPPD_COMPONENT] = root
    return components


class VppdDocumentFieldExtension(OpenApiSerializerFieldExtension):
    """Show ``document`` fields as the VPPD component in the API docs."""

    target_class = VppdDocumentField

    def map_serializer_field(self, auto_schema, direction):
        for name, schema in vppd_openapi_components().items():
            auto_schema.registry.register_on_missing(
                ResolvedComponent(
                    name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name
                )
            )
        ref = {"$ref": f"#/components/schemas/{VPPD_COMPONENT}"}
        if self.target.read_only:
            return {"allOf": [ref], "readOnly": True}
        return ref


# --- Versions -------------------------------------------------------------------------


def _url(request, url_name: str, /, **kwargs) -> str:
    path = reverse(f"{API_NS}:{url_name}", kwargs=kwargs)
    return request.build_absolute_uri(path) if request is not None else path


class VersionLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    profile = serializers.URLField()
    parent = serializers.URLField(allow_null=True)
    diff = serializers.URLField()
    history = serializers.URLField()


class VersionSummarySerializer(serializers.Serializer):
    profile = serializers.CharField(source="policy.name", read_only=True)
    number = serializers.IntegerField(read_only=True)
    label = serializers.CharField(read_only=True, help_text="NAME@NUMBER")
    status = serializers.ChoiceField(choices=VersionStatus.choices, read_only=True)
    content_hash = serializers.CharField(read_only=True, help_text="SHA-256 of the canonical JSON")
    author = serializers.CharField(source="author.username", read_only=True)
    parent = serializers.IntegerField(source="parent.number", allow_null=True, read_only=True)
    change_note = serializers.CharField(read_only=True)
    reviewer = serializers.CharField(source="reviewer.username", allow_null=True, read_only=True)
    review_comment = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    submitted_at = serializers.DateTimeField(allow_null=True, read_only=True)
    reviewed_at = serializers.DateTimeField(allow_null=True, read_only=True)
    links = serializers.SerializerMethodField()

    @extend_schema_field(VersionLinksSerializer)
    def get_links(self, version) -> dict:
        request = self.context.get("request")
        kw = {"name": version.policy.name, "number": version.number}
        return {
            "self": _url(request, "version-detail", **kw),
            "profile": _url(request, "profile-detail", name=version.policy.name),
            "parent": (
                _url(
                    request,
                    "version-detail",
                    name=version.policy.name,
                    number=version.parent.number,
                )
                if version.parent_id
                else None
            ),
            "diff": _url(request, "version-diff", **kw),
            "history": _url(request, "version-history", **kw),
        }


class VersionSerializer(VersionSummarySerializer):
    document = VppdDocumentField(
        read_only=True,
        help_text="The stored document: inline volume keys are replaced by key_ref names.",
    )


# --- Profiles -------------------------------------------------------------------------


class ProfileLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    versions = serializers.URLField()
    approved = serializers.URLField(allow_null=True)


class ProfileSerializer(serializers.Serializer):
    """A profile as annotated by ``profile_list``/``profile_summary``."""

    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    created_by = serializers.CharField(
        source="created_by.username", allow_null=True, read_only=True
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    approved_version = serializers.IntegerField(
        source="approved_number", allow_null=True, read_only=True, help_text="The active version"
    )
    latest_version = serializers.IntegerField(
        source="latest_number", allow_null=True, read_only=True
    )
    version_count = serializers.IntegerField(read_only=True)
    pending_count = serializers.IntegerField(read_only=True)
    draft_count = serializers.IntegerField(read_only=True)
    last_change = serializers.DateTimeField(allow_null=True, read_only=True)
    links = serializers.SerializerMethodField()

    @extend_schema_field(ProfileLinksSerializer)
    def get_links(self, policy) -> dict:
        request = self.context.get("request")
        approved = getattr(policy, "approved_number", None)
        return {
            "self": _url(request, "profile-detail", name=policy.name),
            "versions": _url(request, "version-list", name=policy.name),
            "approved": (
                _url(request, "version-detail", name=policy.name, number=approved)
                if approved
                else None
            ),
        }


class ProfileDetailSerializer(ProfileSerializer):
    versions = serializers.SerializerMethodField()

    @extend_schema_field(VersionSummarySerializer(many=True))
    def get_versions(self, policy) -> list:
        return VersionSummarySerializer(
            self.context.get("versions", []), many=True, context=self.context
        ).data


# --- Requests -------------------------------------------------------------------------


class ProfileListQuerySerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False, allow_blank=True, help_text="Part of the name or description"
    )
    status = serializers.ChoiceField(
        choices=VersionStatus.choices,
        required=False,
        allow_blank=True,
        help_text="Only profiles having a version in this status",
    )
    flag = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Only profiles having a version with this execution flag (e.g. Production)",
    )


class ProfileCreateSerializer(serializers.Serializer):
    document = VppdDocumentField()
    change_note = serializers.CharField(required=False, allow_blank=True, default="")
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The profile's name; defaults to the document's name and must equal it.",
    )


class VersionCreateSerializer(serializers.Serializer):
    document = VppdDocumentField(
        required=False, help_text="Omit to copy the parent's (or the latest version's) document."
    )
    parent = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_NUMBER,
        help_text="Number of the version this draft starts from; defaults to the approved one.",
    )
    change_note = serializers.CharField(required=False, allow_blank=True, default="")


class VersionUpdateSerializer(serializers.Serializer):
    document = VppdDocumentField(required=False)
    change_note = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give a document, a change_note or both.")
        return attrs


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class RejectSerializer(serializers.Serializer):
    comment = serializers.CharField(
        allow_blank=True, help_text="Required: tells the author why the version was rejected."
    )


class DiffQuerySerializer(serializers.Serializer):
    against = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_NUMBER,
        help_text="Version number to compare with; defaults to the version's parent.",
    )


class ChangeSerializer(serializers.Serializer):
    pointer = serializers.CharField(help_text="JSON pointer of the changed value")
    kind = serializers.ChoiceField(choices=["added", "removed", "changed"])
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class DiffSerializer(serializers.Serializer):
    profile = serializers.CharField()
    number = serializers.IntegerField()
    against = serializers.IntegerField(
        allow_null=True, help_text="null: compared with an empty document (no parent)"
    )
    changes = ChangeSerializer(many=True)


class HistoryEntrySerializer(serializers.Serializer):
    when = serializers.DateTimeField(source="history_date")
    user = serializers.CharField(source="history_user.username", allow_null=True)
    type = serializers.SerializerMethodField()
    status = serializers.CharField()
    reason = serializers.CharField(source="history_change_reason", allow_null=True)
    content_hash = serializers.CharField()

    @extend_schema_field(serializers.ChoiceField(choices=["created", "changed", "deleted"]))
    def get_type(self, entry) -> str:
        return {"+": "created", "~": "changed", "-": "deleted"}[entry.history_type]


class ValidateSerializer(serializers.Serializer):
    document = VppdDocumentField()


class ValidResponseSerializer(serializers.Serializer):
    valid = serializers.BooleanField()


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
