"""The project's own rows (Django finds an app's models here)."""

from vmpersona.accounts.models import NotificationKind, NotificationPreference

__all__ = ["NotificationKind", "NotificationPreference"]
