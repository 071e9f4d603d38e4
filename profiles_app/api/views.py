"""REST endpoints for profiles and their versions.

Each view parses its input, calls one selector or service and presents the result.
Roles, states and document validity are the services' business, so a forbidden role
answers 403, a forbidden transition 409 and an invalid document 400 with one
``{"path", "message"}`` entry per problem — the same rules as the pages and the CLI.

The store is generic: the same endpoints serve every policy kind (VPPDs and scheduling
policies). A policy is named by its kind and its name: ``kind`` in the body to create
or validate, ``?kind=`` on the endpoints below a name; VPPD when none is given.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from profiles_app import selectors
from profiles_app.api import serializers as s
from profiles_app.api.parsers import StrictJSONParser
from profiles_app.diff import document_diff
from profiles_app.documents import validate_document
from profiles_app.kinds import get_kind
from profiles_app.models import PolicyKind
from profiles_app.services import versions as services
from vmpersona.accounts.services import api_token_create
from vmpersona.api import (
    ApiListView,
    ApiView,
    DetailResponseSerializer,
    ErrorResponseSerializer,
    flatten_errors,
)
from vmpersona.api import exception_handler as base_exception_handler
from vmpersona.errors import error_list
from vmpersona.throttling import AuthAccountThrottle, AuthAddressThrottle

# --- Parsing and errors ---------------------------------------------------------------


class SchemaJSONRenderer(JSONRenderer):
    media_type = "application/schema+json"
    format = "jsonschema"


def _django_errors(exc: DjangoValidationError) -> list[dict[str, str]]:
    if hasattr(exc, "error_dict"):
        items = []
        for field, errors in exc.error_dict.items():
            for item in error_list(DjangoValidationError(errors)):
                items.append({"path": item["path"] or field, "message": item["message"]})
        return items
    return error_list(exc)


def api_exception_handler(exc, context):
    """Every 400 as ``{"errors": [...]}``; unknown profiles and versions as 404."""
    if isinstance(exc, selectors.NotFound):
        exc = exceptions.NotFound(str(exc))
    if isinstance(exc, DjangoValidationError):
        return Response({"errors": _django_errors(exc)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ValidationError | exceptions.ParseError):
        errors = [{"path": p, "message": m} for p, m in flatten_errors(exc.detail)]
        return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
    return base_exception_handler(exc, context)


ERRORS_400 = OpenApiResponse(ErrorResponseSerializer, description="Invalid input")
DETAIL_403 = OpenApiResponse(
    DetailResponseSerializer, description="The user's roles do not allow it"
)
DETAIL_404 = OpenApiResponse(DetailResponseSerializer, description="No such profile or version")
DETAIL_409 = OpenApiResponse(
    DetailResponseSerializer, description="The version's status does not allow it"
)


class BaseView(ApiView):
    parser_classes = [StrictJSONParser]

    def get_exception_handler(self):
        return api_exception_handler

    def kind(self) -> str:
        """The policy kind the request names (``?kind=``), VPPD when it names none."""
        return self.parse(s.KindQuerySerializer, self.request.query_params)["kind"]

    def version(self, name: str, number: int):
        kind = self.kind()
        if number > s.MAX_NUMBER:  # would overflow the database integer
            raise exceptions.NotFound(f"No version {number} of profile '{name}'.")
        return selectors.version_get(kind=kind, name=name, number=number)

    def present(self, version, code=status.HTTP_200_OK) -> Response:
        data = s.VersionSerializer(version, context={"request": self.request}).data
        return Response(data, status=code)


class ListView(BaseView, ApiListView):
    pass


# --- Profiles -------------------------------------------------------------------------


class ProfileListView(ListView):
    @extend_schema(
        operation_id="profiles_list",
        tags=["profiles"],
        summary="List profiles (or the policies of another kind)",
        description="VPPDs unless `kind` names another kind (`scheduling`).",
        parameters=[s.ProfileListQuerySerializer],
        responses={200: s.ProfileSerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        filters = self.parse(s.ProfileListQuerySerializer, request.query_params)
        return self.paginated(selectors.profile_list(**filters), s.ProfileSerializer)

    @extend_schema(
        operation_id="profiles_create",
        tags=["profiles"],
        summary="Create a profile (or a policy of another kind) and its first draft",
        description="Needs the authors role. `kind` says which kind of policy the document "
        "is (default `vppd`; `scheduling` for a scheduling policy), and the document is "
        "validated against that kind's schema and rules. Inline volume keys are stored "
        "encrypted and replaced by key_ref names before anything is saved.",
        request=s.ProfileCreateSerializer,
        responses={201: s.VersionSerializer, 400: ERRORS_400, 403: DETAIL_403},
    )
    def post(self, request):
        data = self.parse(s.ProfileCreateSerializer, request.data)
        version = services.policy_create(
            user=request.user,
            document=data["document"],
            name=data["name"] or None,
            kind=data["kind"],
            change_note=data["change_note"],
        )
        response = self.present(version, status.HTTP_201_CREATED)
        response["Location"] = response.data["links"]["self"]
        return response


class ProfileDetailView(BaseView):
    @extend_schema(
        operation_id="profiles_retrieve",
        tags=["profiles"],
        summary="A profile with its versions",
        parameters=[s.KindQuerySerializer],
        responses={200: s.ProfileDetailSerializer, 400: ERRORS_400, 404: DETAIL_404},
    )
    def get(self, request, name: str):
        policy = selectors.profile_summary(kind=self.kind(), name=name)
        versions = selectors.version_list(policy=policy)
        context = {"request": request, "versions": versions}
        return Response(s.ProfileDetailSerializer(policy, context=context).data)


# --- Versions -------------------------------------------------------------------------


class VersionListView(ListView):
    @extend_schema(
        operation_id="profiles_versions_list",
        tags=["versions"],
        summary="List a profile's versions (newest first)",
        parameters=[s.KindQuerySerializer],
        responses={200: s.VersionSummarySerializer(many=True), 400: ERRORS_400, 404: DETAIL_404},
    )
    def get(self, request, name: str):
        policy = selectors.profile_get(kind=self.kind(), name=name)
        return self.paginated(selectors.version_list(policy=policy), s.VersionSummarySerializer)

    @extend_schema(
        operation_id="profiles_versions_create",
        tags=["versions"],
        summary="Start a new draft",
        description="From a document, or as a copy of `parent` (default: the approved or "
        "latest version). Needs the authors role.",
        parameters=[s.KindQuerySerializer],
        request=s.VersionCreateSerializer,
        responses={201: s.VersionSerializer, 400: ERRORS_400, 403: DETAIL_403, 404: DETAIL_404},
    )
    def post(self, request, name: str):
        policy = selectors.profile_get(kind=self.kind(), name=name)
        data = self.parse(s.VersionCreateSerializer, request.data)
        parent = None
        if "parent" in data:
            try:
                parent = self.version(name, data["parent"])
            except selectors.NotFound as exc:
                raise DjangoValidationError(
                    str(exc), code="invalid", params={"path": "parent"}
                ) from exc
        version = services.version_create_draft(
            user=request.user,
            policy=policy,
            document=data.get("document"),
            parent=parent,
            change_note=data["change_note"],
        )
        response = self.present(version, status.HTTP_201_CREATED)
        response["Location"] = response.data["links"]["self"]
        return response


class VersionDetailView(BaseView):
    @extend_schema(
        operation_id="profiles_versions_retrieve",
        tags=["versions"],
        summary="One version with its document",
        parameters=[s.KindQuerySerializer],
        responses={200: s.VersionSerializer, 400: ERRORS_400, 404: DETAIL_404},
    )
    def get(self, request, name: str, number: int):
        return self.present(self.version(name, number))

    @extend_schema(
        operation_id="profiles_versions_partial_update",
        tags=["versions"],
        summary="Edit a draft",
        description="Only the draft's author may; submitted versions never change (409).",
        parameters=[s.KindQuerySerializer],
        request=s.VersionUpdateSerializer,
        responses={
            200: s.VersionSerializer,
            400: ERRORS_400,
            403: DETAIL_403,
            404: DETAIL_404,
            409: DETAIL_409,
        },
    )
    def patch(self, request, name: str, number: int):
        version = self.version(name, number)
        data = self.parse(s.VersionUpdateSerializer, request.data)
        version = services.version_update_draft(
            user=request.user,
            version=version,
            document=data.get("document", version.document),
            change_note=data.get("change_note"),
        )
        return self.present(version)

    @extend_schema(
        operation_id="profiles_versions_destroy",
        tags=["versions"],
        summary="Discard a draft",
        parameters=[s.KindQuerySerializer],
        responses={204: None, 400: ERRORS_400, 403: DETAIL_403, 404: DETAIL_404, 409: DETAIL_409},
    )
    def delete(self, request, name: str, number: int):
        services.version_discard_draft(user=request.user, version=self.version(name, number))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _action_schema(operation: str, summary: str, request, description: str = ""):
    return extend_schema(
        operation_id=f"profiles_versions_{operation}",
        tags=["versions"],
        summary=summary,
        description=description,
        parameters=[s.KindQuerySerializer],
        request=request,
        responses={
            200: s.VersionSerializer,
            400: ERRORS_400,
            403: DETAIL_403,
            404: DETAIL_404,
            409: DETAIL_409,
        },
    )


class VersionSubmitView(BaseView):
    @_action_schema("submit", "Submit a draft for approval", None, "The draft's author only.")
    def post(self, request, name: str, number: int):
        version = services.version_submit(user=request.user, version=self.version(name, number))
        return self.present(version)


class VersionApproveView(BaseView):
    @_action_schema(
        "approve",
        "Approve a pending version",
        s.CommentSerializer,
        "Approvers only, and never the version's author. The previously approved version "
        "becomes superseded.",
    )
    def post(self, request, name: str, number: int):
        data = self.parse(s.CommentSerializer, request.data)
        version = services.version_approve(
            user=request.user, version=self.version(name, number), comment=data["comment"]
        )
        return self.present(version)


class VersionRejectView(BaseView):
    @_action_schema(
        "reject",
        "Reject a pending version",
        s.RejectSerializer,
        "Approvers only, never the version's author; a comment is required.",
    )
    def post(self, request, name: str, number: int):
        data = self.parse(s.RejectSerializer, request.data)
        version = services.version_reject(
            user=request.user, version=self.version(name, number), comment=data["comment"]
        )
        return self.present(version)


class VersionRetireView(BaseView):
    @_action_schema(
        "retire",
        "Retire an approved or superseded version",
        s.CommentSerializer,
        "Approvers only. A retired version may no longer be used.",
    )
    def post(self, request, name: str, number: int):
        data = self.parse(s.CommentSerializer, request.data)
        version = services.version_retire(
            user=request.user, version=self.version(name, number), comment=data["comment"]
        )
        return self.present(version)


class VersionDiffView(BaseView):
    @extend_schema(
        operation_id="profiles_versions_diff",
        tags=["versions"],
        summary="Structured changes between two versions",
        description="Changes from version `against` (default: the parent; no parent: an "
        "empty document) to this version, one entry per JSON pointer.",
        parameters=[s.DiffQuerySerializer],
        responses={200: s.DiffSerializer, 400: ERRORS_400, 404: DETAIL_404},
    )
    def get(self, request, name: str, number: int):
        query = self.parse(s.DiffQuerySerializer, request.query_params)
        version = self.version(name, number)
        if "against" in query:
            base = self.version(name, query["against"])
        else:
            base = version.parent
        changes = document_diff(base.document if base else {}, version.document)
        data = {
            "profile": name,
            "number": version.number,
            "against": base.number if base else None,
            "changes": [c.to_dict() for c in changes],
        }
        return Response(s.DiffSerializer(data).data)


class VersionHistoryView(ListView):
    @extend_schema(
        operation_id="profiles_versions_history",
        tags=["versions"],
        summary="Audit trail of one version (newest first)",
        parameters=[s.KindQuerySerializer],
        responses={200: s.HistoryEntrySerializer(many=True), 400: ERRORS_400, 404: DETAIL_404},
    )
    def get(self, request, name: str, number: int):
        version = self.version(name, number)
        return self.paginated(selectors.version_history(version=version), s.HistoryEntrySerializer)


# --- Documents ------------------------------------------------------------------------


class VppdSchemaView(BaseView):
    """The VPPD JSON Schema: a public contract, so anyone may read it."""

    permission_classes = [AllowAny]
    renderer_classes = [SchemaJSONRenderer, JSONRenderer]

    @extend_schema(
        operation_id="schemas_vppd_retrieve",
        tags=["documents"],
        summary="The VPPD JSON Schema (draft 2020-12)",
        description="Readable without logging in. The `VPPD` component in these docs is its "
        "OpenAPI 3.0 rendering.",
        auth=[],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="A JSON Schema")},
    )
    def get(self, request):
        return Response(get_kind(PolicyKind.VPPD).schema())


class SchedulingSchemaView(BaseView):
    """The scheduling policy's JSON Schema: a public contract, like the VPPD's."""

    permission_classes = [AllowAny]
    renderer_classes = [SchemaJSONRenderer, JSONRenderer]

    @extend_schema(
        operation_id="schemas_scheduling_retrieve",
        tags=["documents"],
        summary="The scheduling policy JSON Schema (draft 2020-12)",
        description="Readable without logging in.",
        auth=[],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="A JSON Schema")},
    )
    def get(self, request):
        return Response(get_kind("scheduling").schema())


class ValidateView(BaseView):
    @extend_schema(
        operation_id="validate_create",
        tags=["documents"],
        summary="Validate a document without saving it",
        description="Schema, semantic checks and key_ref existence, exactly as on save, "
        "for a document of `kind` (default `vppd`).",
        request=s.ValidateSerializer,
        responses={200: s.ValidResponseSerializer, 400: ERRORS_400},
    )
    def post(self, request):
        data = self.parse(s.ValidateSerializer, request.data)
        validate_document(data["document"], kind=data["kind"])
        return Response({"valid": True})


class TokenView(BaseView):
    """Exchange a username and password for a new API token (`Authorization: Token <key>`).

    Each call creates a token; only its hash is stored, so the key in the answer is shown
    once. Tokens expire (`expiry`) and are listed and revoked on the "Your account" page.
    Repeated requests are throttled per client address and per account (429), and wrong
    passwords lock the account and the address out for a while, as on the login page.
    """

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthAddressThrottle, AuthAccountThrottle]

    @extend_schema(
        operation_id="auth_token_create",
        tags=["auth"],
        summary="Obtain an API token",
        auth=[],
        request=AuthTokenSerializer,
        responses={
            200: s.TokenResponseSerializer,
            400: ERRORS_400,
            429: OpenApiResponse(
                DetailResponseSerializer, description="Too many requests or failed logins"
            ),
        },
    )
    def post(self, request):
        try:
            user = self.parse(AuthTokenSerializer, request.data)["user"]
        except DjangoValidationError:
            # django-axes refused to check the password: this account or address is
            # locked out after too many failures.
            if getattr(request, "axes_locked_out", False):
                raise exceptions.Throttled(
                    detail="Too many failed logins: this account or address is locked for "
                    "a while. An administrator can unlock it."
                ) from None
            raise
        _token, key = api_token_create(user=user)
        return Response({"token": key})
