"""Reads of the base images and where they are."""

from __future__ import annotations

from django.db.models import QuerySet

from operations_app.models import BaseImage


def base_image_list() -> QuerySet[BaseImage]:
    """Base images by id, with their locations and those locations' platforms."""
    return BaseImage.objects.prefetch_related("locations__platform").order_by("image_id")
