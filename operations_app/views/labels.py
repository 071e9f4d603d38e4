"""Changing a VM's or a platform's labels, from its page.

Both are POSTs of the labels form (one ``key=value`` per line, replacing them all) that
call one service (``vm_labels_set``, ``platform_labels_set``) and go back to the page. A
refusal renders the page again with the errors beside the labels and the status that
fits: 400 for invalid labels (each with its path, ``labels/<n>`` or ``labels/<key>``),
403 without the operators role, never an error page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from operations_app.forms.labels import LabelsForm
from operations_app.labels import labels_text
from operations_app.services import labels as label_services
from operations_app.views.common import platform_or_404, vm_or_404
from operations_app.views.platforms import platform_page
from operations_app.views.vms import vm_page
from vmpersona.errors import DomainError, http_status


def _saved(request: HttpRequest, name: str, labels: dict[str, str]) -> None:
    shown = labels_text(labels) or "none"
    messages.success(request, f"Labels of {name} saved: {shown}.")


@login_required
@require_POST
def vm_labels(request: HttpRequest, pk: int) -> HttpResponse:
    vm = vm_or_404(pk)
    form = LabelsForm(request.POST)
    if not form.is_valid():
        return vm_page(request, vm, labels_form=form, status=400)
    try:
        vm = label_services.vm_labels_set(
            user=request.user, vm=vm, labels=form.cleaned_data["labels"], replace=True
        )
    except ValidationError as exc:
        form.add_service_errors(exc)
        return vm_page(request, vm, labels_form=form, status=400)
    except DomainError as exc:
        return vm_page(
            request, vm, labels_form=form, labels_errors=[str(exc)], status=http_status(exc)
        )
    _saved(request, vm.name, vm.labels)
    return redirect(vm.get_absolute_url() + "#labels")


@login_required
@require_POST
def platform_labels(request: HttpRequest, name: str) -> HttpResponse:
    platform = platform_or_404(name)
    form = LabelsForm(request.POST)
    if not form.is_valid():
        return platform_page(request, platform, labels_form=form, status=400)
    try:
        platform = label_services.platform_labels_set(
            user=request.user, platform=platform, labels=form.cleaned_data["labels"], replace=True
        )
    except ValidationError as exc:
        form.add_service_errors(exc)
        return platform_page(request, platform, labels_form=form, status=400)
    except DomainError as exc:
        return platform_page(
            request, platform, labels_form=form, labels_errors=[str(exc)], status=http_status(exc)
        )
    _saved(request, platform.name, platform.labels)
    return redirect(platform.get_absolute_url() + "#labels")
