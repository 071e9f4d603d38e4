"""Host maintenance: a platform taken out of service for a window, its VMs moved away."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords

from operations_app.models.platforms import Platform
from operations_app.models.windows import MaintenanceWindow


class MaintenanceState(models.TextChoices):
    ENTERING = "entering", "Entering maintenance"
    IN_MAINTENANCE = "in_maintenance", "In maintenance"
    ENDED = "ended", "Ended"


ACTIVE_MAINTENANCE = (MaintenanceState.ENTERING, MaintenanceState.IN_MAINTENANCE)


class HostMaintenance(models.Model):
    """One period of maintenance of a platform (``services.maintenance``).

    From its start no new clone or migration is placed on the platform; inside its
    window (or at once, without one) the managed VMs are moved to other platforms, a
    few at a time. It is *entering* until the last managed VM has left, then *in
    maintenance* until an operator ends it. ``vms`` records, per VM, what became of it::

        {"web-1": {"status": "moved", "job": 12, "target": "host-b", "path": "live",
                   "reason": "", "at": "..."}}

    (statuses: ``waiting``, ``moving``, ``moved``, ``failed``, ``unmovable``, ``gone``).
    """

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="maintenances")
    window = models.ForeignKey(
        MaintenanceWindow,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="host_maintenances",
        help_text="The window inside which the VMs are moved; none: at once.",
    )
    state = models.CharField(
        max_length=20, choices=MaintenanceState.choices, default=MaintenanceState.ENTERING
    )
    reason = models.CharField(max_length=500, blank=True)
    move_back = models.BooleanField(
        default=False, help_text="When it ends, move the VMs it moved away back."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    started_at = models.DateTimeField(auto_now_add=True)
    evacuated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last managed VM had left."
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    plan = models.JSONField(
        default=dict, blank=True, help_text="The evacuation plan shown when it was confirmed."
    )
    vms = models.JSONField(default=dict, blank=True)
    summary = models.TextField(blank=True, help_text="The last summary sent to the requester.")
    summarized_occurrence = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The start of the window occurrence whose work was last summed up.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform"],
                condition=models.Q(state__in=["entering", "in_maintenance"]),
                name="hostmaintenance_one_active_per_platform",
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform.name}: {self.get_state_display().lower()}"

    def get_absolute_url(self) -> str:
        return reverse("operations:platform", kwargs={"name": self.platform.name})

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_MAINTENANCE
