from __future__ import annotations

from django import forms
from django.conf import settings

from vmpersona.accounts.models import NOTIFICATION_KIND_DESCRIPTIONS, NotificationKind
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


class NotificationPreferencesForm(forms.Form):
    """One checkbox per notification kind: ticked, it also comes by email. A box left
    unticked is a "no" (browsers send nothing for it)."""

    def __init__(self, *args, choices: dict[str, bool] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = choices or {}
        for kind in NotificationKind:
            self.fields[f"email_{kind.value}"] = forms.BooleanField(
                required=False,
                label=kind.label,
                help_text=NOTIFICATION_KIND_DESCRIPTIONS[kind],
                initial=choices.get(kind.value, True),
            )

    def email_choices(self) -> dict[str, bool]:
        return {kind: bool(self.cleaned_data[f"email_{kind}"]) for kind in NotificationKind.values}
