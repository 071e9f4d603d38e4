"""The "Your account" page: roles, which notifications also come by email, API tokens,
create (shown once), revoke one or all."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from vmpersona.accounts import selectors, services
from vmpersona.accounts.forms import (
    NotificationPreferencesForm,
    TokenCreateForm,
    TokenRevokeForm,
)
from vmpersona.errors import NotFoundError
from vmpersona.roles import ROLE_DESCRIPTIONS


def _page(request, *, form=None, new_token=None, status=200):
    roles = sorted(request.user.groups.values_list("name", flat=True))
    choices = selectors.notification_email_choices(user=request.user)
    context = {
        "roles": [(role, ROLE_DESCRIPTIONS.get(role, "")) for role in roles],
        "tokens": selectors.api_token_list(user=request.user),
        "form": form or TokenCreateForm(),
        "new_token": new_token,
        "preferences_form": NotificationPreferencesForm(choices=choices),
    }
    return render(request, "accounts/account.html", context, status=status)


@never_cache
@login_required
def account(request):
    return _page(request)


@never_cache
@login_required
@require_POST
def token_create(request):
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        token, key = services.api_token_create(user=request.user, days=form.cleaned_data["days"])
    except ValidationError as exc:
        form.add_error("days", exc)
        return _page(request, form=form, status=400)
    # Rendered, not redirected: the key exists only in this response.
    return _page(request, new_token={"key": key, "expiry": token.expiry})


@login_required
@require_POST
def token_revoke(request):
    form = TokenRevokeForm(request.POST)
    if form.is_valid():
        try:
            services.api_token_revoke(user=request.user, digest=form.cleaned_data["digest"])
        except NotFoundError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Token revoked.")
    return redirect("accounts:account")


@login_required
@require_POST
def token_revoke_all(request):
    count = services.api_token_revoke_all(user=request.user)
    messages.success(request, f"{count} token(s) revoked.")
    return redirect("accounts:account")


@login_required
@require_POST
def notification_preferences(request):
    form = NotificationPreferencesForm(request.POST)
    if form.is_valid():
        services.notification_preferences_set(user=request.user, email=form.email_choices())
        messages.success(request, "Email preferences saved.")
    else:  # pragma: no cover - unticked boxes are valid; nothing else is sent
        messages.error(request, "Those email preferences could not be saved.")
    # To the top of the page, where the message shows; the panel is just below.
    return redirect("accounts:account")
