"""REST endpoints for security advisories and a platform's host facts.

Everyone authenticated reads; importing advisories (a file, or a URL the server reads)
and a platform's packages needs the operators role, as changes to the platform
registry do, checked by the service (403 otherwise).
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400, OBJECT_404, OPERATORS_403
from operations_app.api.serializers import advisories as s
from operations_app.models import Platform
from operations_app.selectors import advisories as advisory_selectors
from operations_app.services import advisories as advisory_services
from vmpersona.api import ApiListView, ApiView
from vmpersona.errors import field_error

TAGS = ["advisories"]
MAX_UPLOAD_BYTES = 256 * 1024 * 1024


class AdvisoryListView(ApiListView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        operation_id="advisories_list",
        tags=TAGS,
        summary="List advisories (the highest CVSS first)",
        parameters=[s.AdvisoryListQuerySerializer],
        responses={200: s.AdvisorySerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        filters = self.parse(s.AdvisoryListQuerySerializer, request.query_params)
        return self.paginated(advisory_selectors.advisory_list(**filters), s.AdvisorySerializer)

    @extend_schema(
        operation_id="advisories_import",
        tags=TAGS,
        summary="Import advisories from an OSV or Debian security tracker file, or a URL",
        description="Needs the operators role. Send the file as the multipart field `file`, "
        'or `{"url": "https://..."}` for the server to read (http or https, with a timeout '
        'and a size cap). OSV: a record, a list, or the API\'s `{"vulns": [...]}`; the '
        "Debian tracker: its whole JSON or an excerpt. Importing the same advisories again "
        "changes nothing; a bad file changes nothing and each problem names its JSON pointer.",
        request={
            "multipart/form-data": s.AdvisoryUploadSerializer,
            "application/json": s.AdvisoryImportSerializer,
        },
        responses={201: s.AdvisoryImportResultSerializer, 400: ERRORS_400, 403: OPERATORS_403},
    )
    def post(self, request):
        upload = request.FILES.get("file") if hasattr(request, "FILES") else None
        if upload is not None:
            if upload.size > MAX_UPLOAD_BYTES:
                raise field_error("file", f"larger than {MAX_UPLOAD_BYTES} bytes")
            result = advisory_services.advisories_import(
                user=request.user, content=upload.read(), origin=upload.name or "an upload"
            )
        else:
            data = self.parse(s.AdvisoryImportSerializer, request.data)
            if not data.get("url"):
                raise ValidationError(
                    [field_error("file", "send a file (multipart field 'file') or a url")]
                )
            result = advisory_services.advisories_import_url(user=request.user, url=data["url"])
        return Response(
            s.AdvisoryImportResultSerializer(result.to_dict()).data,
            status=status.HTTP_201_CREATED,
        )


class AdvisoryDetailView(ApiView):
    @extend_schema(
        operation_id="advisories_retrieve",
        tags=TAGS,
        summary="An advisory as each feed gives it (by its id or its CVE)",
        responses={200: s.AdvisorySerializer(many=True), 404: OBJECT_404},
    )
    def get(self, request, advisory_id: str):
        rows = advisory_selectors.advisory_get(advisory_id)
        if not rows:
            raise exceptions.NotFound(f"No advisory '{advisory_id}'.")
        return Response(s.AdvisorySerializer(rows, many=True, context={"request": request}).data)


class PlatformFactsView(ApiView):
    def platform(self, name: str) -> Platform:
        try:
            return Platform.objects.get(name=name)
        except Platform.DoesNotExist as exc:
            raise exceptions.NotFound(f"No platform named '{name}'.") from exc

    def present(self, platform: Platform) -> Response:
        exposure, _ = advisory_selectors.exposures([platform], {})
        facts = platform.host_facts or {}
        data = {
            "platform": platform.name,
            "debian_release": facts.get("debian_release") or "bookworm",
            "imported_at": platform.host_facts_imported_at,
            "packages": facts.get("packages") or {},
            "exposure": [e.to_dict() for e in exposure.get(platform.name, [])],
        }
        return Response(s.HostFactsResultSerializer(data).data)

    @extend_schema(
        operation_id="platforms_facts_retrieve",
        tags=["platforms"],
        summary="A platform's packages and the advisories they are exposed to",
        responses={200: s.HostFactsResultSerializer, 404: OBJECT_404},
    )
    def get(self, request, name: str):
        return self.present(self.platform(name))

    @extend_schema(
        operation_id="platforms_facts_import",
        tags=["platforms"],
        summary="Replace a platform's packages (dpkg-query output or {package: version})",
        description="Needs the operators role. `packages`: the text `dpkg-query -W "
        "-f='${Package} ${Version}\\n'` prints (a third column `${source:Package}` is read "
        "when given), or an object {package: version}.",
        request=s.HostFactsSerializer,
        responses={
            200: s.HostFactsResultSerializer,
            400: ERRORS_400,
            403: OPERATORS_403,
            404: OBJECT_404,
        },
    )
    def post(self, request, name: str):
        platform = self.platform(name)
        data = self.parse(s.HostFactsSerializer, request.data)
        packages = data["packages"]
        if not isinstance(packages, str | dict):
            raise field_error("packages", "dpkg-query output as text, or {package: version}")
        content = packages if isinstance(packages, str) else json.dumps(packages)
        platform = advisory_services.platform_facts_import(
            user=request.user,
            platform=platform,
            content=content,
            debian_release=data.get("debian_release"),
        )
        return self.present(platform)
