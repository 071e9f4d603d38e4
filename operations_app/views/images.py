"""The base images page: each image, its size, and the platforms that have it or not."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from operations_app.presentation.formatting import size_text
from operations_app.selectors import images as image_selectors
from operations_app.selectors import platforms as platform_selectors


@login_required
def image_list(request: HttpRequest) -> HttpResponse:
    platforms = platform_selectors.platform_names()
    rows = []
    for image in image_selectors.base_image_list():
        locations = list(image.locations.all())  # type: ignore[attr-defined]
        present = {loc.platform.name for loc in locations}
        rows.append(
            {
                "image": image,
                "size": size_text(image.virtual_size_bytes) if image.virtual_size_bytes else "",
                "locations": sorted(locations, key=lambda loc: loc.platform.name),
                "missing": [name for name in platforms if name not in present],
            }
        )
    return render(request, "operations_app/image_list.html", {"rows": rows})
