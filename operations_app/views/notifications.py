"""A user's notifications: the list, and marking them all read."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from operations_app.selectors import notifications as notification_selectors
from operations_app.services import notifications as notification_services
from operations_app.views.common import safe_next_url

NOTIFICATIONS_PER_PAGE = 50


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    notes = notification_selectors.notification_list(user=request.user, unread_only=unread_only)
    page = Paginator(notes, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "operations_app/job_notifications.html",
        {"page": page, "notes": page.object_list, "unread_only": unread_only},
    )


@login_required
@require_POST
def notifications_mark_read(request: HttpRequest) -> HttpResponse:
    marked = notification_services.notification_mark_read(user=request.user)
    if marked:
        messages.success(request, f"{marked} notification{'s' if marked != 1 else ''} marked read.")
    return redirect(safe_next_url(request, reverse("operations:notifications")))
