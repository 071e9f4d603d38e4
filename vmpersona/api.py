"""API-wide pieces: the exception handler that turns domain errors into 400/403/409, the
error shapes every endpoint answers with, and the base view that parses requests into
them and paginates lists."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from vmpersona.errors import (
    DomainError,
    NotFoundError,
    NotPermitted,
    StateConflict,
    error_list,
    field_error,
)

logger = logging.getLogger(__name__)


# --- Error shapes -----------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    path = serializers.CharField(
        help_text=(
            "Where the problem is: a request field (e.g. `comment`, `target`), a pointer "
            "below one (e.g. `constraints/disk_buses/0`), or a JSON pointer into a VPPD "
            "document (e.g. `/resource_allocation/vcpus`); empty for the whole body."
        )
    )
    message = serializers.CharField()


class ErrorResponseSerializer(serializers.Serializer):
    errors = ErrorSerializer(many=True)


class DetailResponseSerializer(serializers.Serializer):
    detail = serializers.CharField()


def flatten_errors(detail, prefix: str = "") -> list[tuple[str, str]]:
    """DRF's nested error detail as (path, message) pairs; paths like ``networks/0``."""
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            field = "" if key in ("non_field_errors", "detail") else str(key)
            items.extend(
                flatten_errors(value, f"{prefix}/{field}" if prefix and field else prefix or field)
            )
        return items
    if isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            return [(prefix, str(v)) for v in detail]
        items = []
        for index, value in enumerate(detail):
            items.extend(flatten_errors(value, f"{prefix}/{index}" if prefix else str(index)))
        return items
    return [(prefix, str(detail))]


# --- Views ------------------------------------------------------------------------------


class ApiPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


# Base views carry no docstring: the schema would show it as every endpoint's description.
class ApiView(APIView):
    # Parses request bodies and queries into validated data, or one 400 entry per
    # problem with its path.

    def parse(self, serializer_class, data) -> dict:
        serializer = serializer_class(data=data, context={"request": self.request})
        if not serializer.is_valid():
            raise DjangoValidationError(
                [field_error(path, message) for path, message in flatten_errors(serializer.errors)]
            )
        return serializer.validated_data


class ApiListView(ApiView):
    # An endpoint answering pages of a list.

    pagination_class = ApiPagination

    def paginated(self, queryset, serializer_class, **context) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        context = {"request": self.request, **context}
        data = serializer_class(page, many=True, context=context).data
        return paginator.get_paginated_response(data)


def validation_error_payload(exc: DjangoValidationError) -> dict:
    """``{"errors": [{"path": ..., "message": ...}]}``: each problem with the path of its field."""
    return {"errors": error_list(exc)}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        return Response(validation_error_payload(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoPermissionDenied | NotPermitted):
        return Response(
            {"detail": str(exc) or "Permission denied."}, status=status.HTTP_403_FORBIDDEN
        )
    if isinstance(exc, NotFoundError):
        return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, StateConflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DomainError):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
