"""Request and response shapes of the profiles API.

Serializers only parse and present: every rule (roles, states, document validity) is
enforced by the services, so the API, the pages, the admin and the CLI agree.

The store holds policies of several kinds (``PolicyKind``: VPPDs and scheduling
policies); names are unique per kind. A request names its kind with ``kind`` (in the
body to create or validate, else ``?kind=``), VPPD when it names none, and the links of
a scheduling policy carry ``?kind=scheduling``.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from profiles_app.api.openapi import kind_openapi_components
from profiles_app.kinds import get_kind, registered_kinds
from profiles_app.models import PolicyKind, VersionStatus

API_NS = "profiles-api"
KIND = PolicyKind.VPPD  # the kind a request means when it names none
MAX_NUMBER = 2_147_483_647  # version numbers are stored as positive 32-bit integers

# --- Policy documents -----------------------------------------------------------------


class DocumentField(serializers.JSONField):
    """A policy document of ``kind`` (None: of any kind) as JSON. Parsing accepts any JSON
    value; the services validate it. The API docs show it as the kind's schema component,
    or any of the kinds' components."""

    def __init__(self, *, kind: str | None, **kwargs):
        self.kind = kind
        super().__init__(**kwargs)


class DocumentFieldExtension(OpenApiSerializerFieldExtension):
    """Show ``document`` fields as their kind's schema component (``VPPD``) in the API
    docs; a field of any kind as ``anyOf`` the kinds' components."""

    target_class = DocumentField

    def map_serializer_field(self, auto_schema, direction):
        kinds = [self.target.kind] if self.target.kind else list(registered_kinds())
        refs = []
        for kind in kinds:
            for name, schema in kind_openapi_components(kind).items():
                auto_schema.registry.register_on_missing(
                    ResolvedComponent(
                        name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name
                    )
                )
            refs.append({"$ref": f"#/components/schemas/{get_kind(kind).openapi_component}"})
        if len(refs) > 1:
            schema = {"anyOf": refs, "description": "A document of the policy's `kind`."}
            return {**schema, "readOnly": True} if self.target.read_only else schema
        if self.target.read_only:
            return {"allOf": refs, "readOnly": True}
        return refs[0]


class PolicyKindField(serializers.ChoiceField):
    """A ``PolicyKind``, documented as one ``PolicyKindEnum`` component (other ``kind``
    fields, such as a change's, have other choices)."""

    def __init__(self, **kwargs):
        super().__init__(choices=PolicyKind.choices, **kwargs)


class PolicyKindFieldExtension(OpenApiSerializerFieldExtension):
    target_class = PolicyKindField

    def map_serializer_field(self, auto_schema, direction):
        name = "PolicyKindEnum"
        schema = {
            "type": "string",
            "enum": list(PolicyKind.values),
            "description": "\n".join(f"* `{v}` - {label}" for v, label in PolicyKind.choices),
        }
        auto_schema.registry.register_on_missing(
            ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name)
        )
        ref = {"$ref": f"#/components/schemas/{name}"}
        if self.target.read_only:
            return {"allOf": [ref], "readOnly": True}
        return ref


def kind_field(**kwargs) -> PolicyKindField:
    """``kind`` in a request: the policy's kind, VPPD when absent."""
    return PolicyKindField(
        required=False,
        default=KIND,
        help_text="The policy's kind: `vppd` (the default) or `scheduling`. Names are "
        "unique per kind.",
        **kwargs,
    )


# --- Versions -------------------------------------------------------------------------


def _url(request, url_name: str, /, kind: str = KIND, **kwargs) -> str:
    """The endpoint's URL; with ``?kind=`` for a policy of another kind than the VPPD."""
    path = reverse(f"{API_NS}:{url_name}", kwargs=kwargs)
    if kind != KIND:
        path += f"?kind={kind}"
    return request.build_absolute_uri(path) if request is not None else path


class VersionLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    profile = serializers.URLField()
    parent = serializers.URLField(allow_null=True)
    diff = serializers.URLField()
    history = serializers.URLField()


class VersionSummarySerializer(serializers.Serializer):
    profile = serializers.CharField(source="policy.name", read_only=True)
    kind = PolicyKindField(source="policy.kind", read_only=True)
    number = serializers.IntegerField(read_only=True)
    label = serializers.CharField(read_only=True, help_text="NAME@NUMBER")
    status = serializers.ChoiceField(choices=VersionStatus.choices, read_only=True)
    content_hash = serializers.CharField(read_only=True, help_text="SHA-256 of the canonical JSON")
    author = serializers.CharField(source="author.username", read_only=True)
    authors = serializers.SerializerMethodField(
        help_text="Everyone who wrote this version's content; none of them may review it."
    )
    parent = serializers.IntegerField(source="parent.number", allow_null=True, read_only=True)
    change_note = serializers.CharField(read_only=True)
    reviewer = serializers.CharField(source="reviewer.username", allow_null=True, read_only=True)
    review_comment = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    submitted_at = serializers.DateTimeField(allow_null=True, read_only=True)
    reviewed_at = serializers.DateTimeField(allow_null=True, read_only=True)
    links = serializers.SerializerMethodField()

    def get_authors(self, version) -> list[str]:
        return sorted(user.username for user in version.authors.all())

    @extend_schema_field(VersionLinksSerializer)
    def get_links(self, version) -> dict:
        request = self.context.get("request")
        kind = version.policy.kind
        kw = {"name": version.policy.name, "number": version.number, "kind": kind}
        return {
            "self": _url(request, "version-detail", **kw),
            "profile": _url(request, "profile-detail", name=version.policy.name, kind=kind),
            "parent": (
                _url(
                    request,
                    "version-detail",
                    name=version.policy.name,
                    number=version.parent.number,
                    kind=kind,
                )
                if version.parent_id
                else None
            ),
            "diff": _url(request, "version-diff", **kw),
            "history": _url(request, "version-history", **kw),
        }


class VersionSerializer(VersionSummarySerializer):
    document = DocumentField(
        kind=None,
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
    kind = PolicyKindField(read_only=True)
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
        kw = {"name": policy.name, "kind": policy.kind}
        return {
            "self": _url(request, "profile-detail", **kw),
            "versions": _url(request, "version-list", **kw),
            "approved": (
                _url(request, "version-detail", number=approved, **kw) if approved else None
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


class KindQuerySerializer(serializers.Serializer):
    kind = kind_field()


class ProfileListQuerySerializer(KindQuerySerializer):
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
    kind = kind_field()
    document = DocumentField(kind=None, help_text="A document of that kind.")
    change_note = serializers.CharField(required=False, allow_blank=True, default="")
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The profile's name; defaults to the document's name and must equal it.",
    )


class VersionCreateSerializer(serializers.Serializer):
    document = DocumentField(
        kind=None,
        required=False,
        help_text="Omit to copy the parent's (or the latest version's) document.",
    )
    parent = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_NUMBER,
        help_text="Number of the version this draft starts from; defaults to the approved one.",
    )
    change_note = serializers.CharField(required=False, allow_blank=True, default="")


class VersionUpdateSerializer(serializers.Serializer):
    document = DocumentField(kind=None, required=False)
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


class DiffQuerySerializer(KindQuerySerializer):
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
    kind = kind_field()
    document = DocumentField(kind=None, help_text="A document of that kind.")


class ValidResponseSerializer(serializers.Serializer):
    valid = serializers.BooleanField()


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
