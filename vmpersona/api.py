"""API-wide pieces: the exception handler that turns domain errors into 400/403/409."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from vmpersona.errors import DomainError, NotPermitted, StateConflict

logger = logging.getLogger(__name__)


def validation_error_payload(exc: DjangoValidationError) -> dict:
    """A ``{"errors": [{"path": ..., "message": ...}]}`` body from a ValidationError.

    Errors raised for a document carry ``params={"path": <json pointer>}``; field errors
    from ``message_dict`` use the field name as the path.
    """
    errors = []
    if hasattr(exc, "error_dict"):
        for field, field_errors in exc.error_dict.items():
            for err in field_errors:
                path = (err.params or {}).get("path") if err.params else None
                errors.append({"path": path if path is not None else field, "message": _msg(err)})
    else:
        for err in exc.error_list:
            path = (err.params or {}).get("path", "") if err.params else ""
            errors.append({"path": path, "message": _msg(err)})
    return {"errors": errors}


def _msg(err: DjangoValidationError) -> str:
    message = err.message
    if err.params:
        try:
            message = message % err.params
        except (TypeError, KeyError, ValueError):
            pass
    return str(message)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        return Response(validation_error_payload(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoPermissionDenied | NotPermitted):
        return Response({"detail": str(exc) or "Permission denied."}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, StateConflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DomainError):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
