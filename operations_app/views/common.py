"""Request-level helpers the page modules share."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from operations_app.models import ManagedVM, OperationJob, Platform
from operations_app.selectors import jobs as job_selectors
from operations_app.selectors import vms as vm_selectors
from vmpersona.errors import NotFoundError
from vmpersona.roles import AUTHORS, OPERATORS, has_role


def can_operate(user) -> bool:
    """Whether to show the operators' buttons (the services check the role again)."""
    return has_role(user, OPERATORS)


def can_clone(user) -> bool:
    """Whether to offer cloning: operators and authors may ask for a clone."""
    return has_role(user, OPERATORS) or has_role(user, AUTHORS)


def platform_or_404(name: str) -> Platform:
    try:
        return Platform.objects.get(name=name)
    except Platform.DoesNotExist as exc:
        raise Http404(f"No platform named '{name}'.") from exc


def vm_or_404(pk: int) -> ManagedVM:
    vm = vm_selectors.vm_get(pk=pk)
    if vm is None:
        raise Http404(f"No VM {pk} in the inventory.")
    return vm


def job_or_404(user, pk: int) -> OperationJob:
    """The job, or 404 when it is missing or ``user`` may not see it."""
    try:
        return job_selectors.job_get(user=user, pk=pk)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc


def safe_next_url(request: HttpRequest, fallback: str) -> str:
    """The ``next`` the request names when it is on this site, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
