"""What the operations API views share: the documented error answers.

Every view parses its input, calls one selector or service and presents the result;
invalid input answers 400 with one ``{"path", "message"}`` entry per problem, through
the project's exception handler (``vmpersona.api``).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse

from vmpersona.api import DetailResponseSerializer, ErrorResponseSerializer

ERRORS_400 = OpenApiResponse(ErrorResponseSerializer, description="Invalid input")

# Platforms, the inventory and images.
OPERATORS_403 = OpenApiResponse(DetailResponseSerializer, description="Needs the operators role")
OBJECT_404 = OpenApiResponse(DetailResponseSerializer, description="No such object")

# Jobs and the requests that make them.
ROLES_403 = OpenApiResponse(
    DetailResponseSerializer, description="The user's roles do not allow it"
)
JOB_404 = OpenApiResponse(
    DetailResponseSerializer, description="No such job, or one the user may not see"
)
STATE_409 = OpenApiResponse(
    DetailResponseSerializer, description="The job, VM, version or platform is in the wrong state"
)
