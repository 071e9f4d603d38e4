from __future__ import annotations

from django import forms
from django.conf import settings

from vmpersona.accounts.services import MAX_TOKEN_DAYS


class TokenCreateForm(forms.Form):
    days = forms.IntegerField(
        min_value=1,
        max_value=MAX_TOKEN_DAYS,
        label="Valid for (days)",
        initial=lambda: settings.VMPERSONA_API_TOKEN_TTL.days or 1,
    )


class TokenRevokeForm(forms.Form):
    digest = forms.CharField(max_length=128)
