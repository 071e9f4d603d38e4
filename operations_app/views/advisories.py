"""Security advisories: the page listing them with the platforms and VMs they affect,
and the import of a feed file for operators (the same service as the API and CLI)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from operations_app.selectors import advisories as advisory_selectors
from operations_app.services import advisories as advisory_services
from operations_app.views.common import can_operate
from vmpersona.errors import DomainError, error_text, http_status

MAX_UPLOAD_BYTES = 256 * 1024 * 1024


@login_required
def advisory_list(request: HttpRequest) -> HttpResponse:
    error, status = "", 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ValidationError("Choose an OSV or Debian security tracker JSON file.")
            if (upload.size or 0) > MAX_UPLOAD_BYTES:
                raise ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES} bytes.")
            result = advisory_services.advisories_import(
                user=request.user, content=upload.read(), origin=upload.name or "an upload"
            )
        except (ValidationError, DomainError) as exc:
            error, status = error_text(exc), http_status(exc)
        else:
            messages.success(
                request,
                result.summary + ".",
            )
            return redirect("operations:advisories")
    search = request.GET.get("q", "").strip()
    exposure = advisory_selectors.fleet_exposure()
    rows = list(advisory_selectors.advisory_list(search=search)[:200])
    for row in rows:
        hit = exposure["by_advisory"].get(row.cve) or {}
        row.hit_platforms = hit.get("platforms", [])  # type: ignore[attr-defined]
        row.hit_vms = hit.get("vms", [])  # type: ignore[attr-defined]
    return render(
        request,
        "operations_app/advisory_list.html",
        {
            "advisories": rows,
            "search": search,
            "exposed": sorted(
                exposure["by_advisory"].items(),
                key=lambda item: (-(item[1]["cvss"] or -1), item[0]),
            ),
            "can_operate": can_operate(request.user),
            "feeds": advisory_selectors.advisory_feed_list(),
            "error": error,
        },
        status=status,
    )
