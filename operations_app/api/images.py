"""REST endpoints for base images. Everyone authenticated may read."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from operations_app.api.base import OBJECT_404
from operations_app.api.serializers import images as s
from operations_app.models import BaseImage
from operations_app.selectors import images as image_selectors
from vmpersona.api import ApiListView, ApiView


class ImageListView(ApiListView):
    @extend_schema(
        operation_id="images_list",
        tags=["images"],
        summary="List base images and where they lie on each platform",
        responses={200: s.BaseImageSerializer(many=True)},
    )
    def get(self, request):
        return self.paginated(image_selectors.base_image_list(), s.BaseImageSerializer)


class ImageDetailView(ApiView):
    @extend_schema(
        operation_id="images_retrieve",
        tags=["images"],
        summary="One base image",
        responses={200: s.BaseImageSerializer, 404: OBJECT_404},
    )
    def get(self, request, image_id: str):
        try:
            image = image_selectors.base_image_list().get(image_id=image_id)
        except BaseImage.DoesNotExist as exc:
            raise exceptions.NotFound(f"No base image '{image_id}'.") from exc
        return Response(s.BaseImageSerializer(image).data)
