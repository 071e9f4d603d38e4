"""``/api/v1/``: what the API offers, each group of endpoints with its absolute URL (as
DRF's browsable root does), for a client that starts from the top. A login is needed,
as for every endpoint."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# Each group: its name in the answer, the URL name of its entry point, what it is.
ENDPOINT_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("auth_token", "profiles-api:token", "Log in for an API token (POST)"),
    ("profiles", "profiles-api:profile-list", "Profiles and their versions"),
    ("validate", "profiles-api:validate", "Check a VPPD without saving it (POST)"),
    ("vppd_schema", "profiles-api:vppd-schema", "The VPPD's JSON Schema"),
    ("scheduling_schema", "profiles-api:scheduling-schema", "The scheduling policy's schema"),
    ("platforms", "operations-api:platform-list", "libvirt hosts"),
    ("vms", "operations-api:vm-list", "The VM inventory"),
    ("images", "operations-api:image-list", "Base images"),
    ("jobs", "operations-api:job-list", "Clones, migrations, snapshots and their events"),
    ("migration_plan", "operations-api:job-migration-plan", "A migration's dry run"),
    ("maintenances", "operations-api:maintenance-list", "Host maintenance"),
    ("windows", "operations-api:window-list", "Maintenance windows"),
    ("plans", "operations-api:plan-list", "Plans the scheduling policies propose"),
    ("notifications", "operations-api:notification-list", "Your notifications"),
    ("schema", "api-schema", "The OpenAPI description"),
    ("docs", "api-docs", "The interactive API documentation"),
)


def endpoint_groups(request) -> dict[str, str]:
    """Each group's absolute URL, in ``ENDPOINT_GROUPS`` order (a group whose URLs are
    not installed is left out)."""
    groups = {}
    for key, url_name, _ in ENDPOINT_GROUPS:
        try:
            groups[key] = request.build_absolute_uri(reverse(url_name))
        except NoReverseMatch:
            continue
    return groups


class ApiRootView(APIView):
    """The API's endpoint groups, each with its absolute URL."""

    @extend_schema(
        operation_id="api_root",
        summary="The API's endpoint groups",
        description="; ".join(f"`{key}`: {what}" for key, _, what in ENDPOINT_GROUPS),
        responses={
            200: inline_serializer(
                "ApiRoot",
                {key: serializers.URLField(help_text=what) for key, _, what in ENDPOINT_GROUPS},
            )
        },
        examples=[
            OpenApiExample(
                "Root",
                value={
                    "profiles": "https://vmpersona.example/api/v1/profiles/",
                    "jobs": "https://vmpersona.example/api/v1/jobs/",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return Response(endpoint_groups(request))
