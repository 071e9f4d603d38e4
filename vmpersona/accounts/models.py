"""Each person's choice, per kind of notification, of whether it also comes by email.

The bell always shows every notification; only email is optional. A kind with no row
for a user is emailed (the default), so only choices people made are stored.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NotificationKind(models.TextChoices):
    REVIEW_REQUESTS = "review_requests", "Review requests"
    REVIEW_DECISIONS = "review_decisions", "Review decisions"
    JOB_OUTCOMES = "job_outcomes", "Jobs"
    PLANS = "plans", "Plans and policies"
    MAINTENANCE = "maintenance", "Maintenance and windows"


NOTIFICATION_KIND_DESCRIPTIONS = {
    NotificationKind.REVIEW_REQUESTS: "a profile or policy version waits for your review",
    NotificationKind.REVIEW_DECISIONS: (
        "a version you wrote was approved, rejected or retired, with the reviewer's comment"
    ),
    NotificationKind.JOB_OUTCOMES: (
        "jobs that finished, failed or rolled back, and scheduled jobs waiting for approval"
    ),
    NotificationKind.PLANS: "policy plans proposed, decided and done, and profiles needing a fix",
    NotificationKind.MAINTENANCE: "host maintenance, window reminders and window summaries",
}


class NotificationPreference(models.Model):
    """Whether ``user`` gets ``kind`` notifications by email (one row per choice made)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    email = models.BooleanField(default=True)

    class Meta:
        app_label = "vmpersona"
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind} email {'on' if self.email else 'off'}"
