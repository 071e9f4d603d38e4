"""Snapshots of managed VMs, as the product took them (libvirt holds the data)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from operations_app.models.inventory import ManagedVM
from operations_app.models.platforms import Platform


class SnapshotOrigin(models.TextChoices):
    MANUAL = "manual", "Taken on request"
    BEFORE_ROLLBACK = "before_rollback", "Before a rollback to an earlier snapshot"


class VMSnapshot(models.Model):
    """One libvirt snapshot of a VM on the platform it was taken on.

    ``removed_at`` is set when the snapshot is deleted (retention, on request) or went
    with its domain (decommission, the source of a migration); rows are kept as history.
    """

    vm = models.ForeignKey(ManagedVM, on_delete=models.CASCADE, related_name="snapshots")
    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="snapshots")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, default="internal")  # internal | external
    with_memory = models.BooleanField(default=False)
    vm_state = models.CharField(max_length=32, blank=True)
    origin = models.CharField(
        max_length=20, choices=SnapshotOrigin.choices, default=SnapshotOrigin.MANUAL
    )
    description = models.CharField(max_length=300, blank=True)
    job = models.ForeignKey(
        "operations_app.OperationJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="snapshots_taken",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["vm", "platform", "name"],
                condition=Q(removed_at__isnull=True),
                name="one_live_snapshot_per_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.vm.name}@{self.name}"

    @property
    def present(self) -> bool:
        return self.removed_at is None
