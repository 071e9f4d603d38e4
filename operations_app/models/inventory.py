"""The VMs found on each platform, and their sampled utilisation."""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords

from operations_app.models.platforms import Platform


class VMState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    SHUTOFF = "shutoff", "Shut off"
    CRASHED = "crashed", "Crashed"
    SUSPENDED = "suspended", "Suspended"
    OTHER = "other", "Other"
    GONE = "gone", "Gone"


class ManagedVM(models.Model):
    """A domain on a platform. ``managed`` when the product created it (its metadata says so)."""

    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="vms")
    name = models.CharField(max_length=200)
    domain_uuid = models.UUIDField()
    state = models.CharField(max_length=20, choices=VMState.choices, default=VMState.OTHER)
    managed = models.BooleanField(default=False)
    profile_version = models.ForeignKey(
        "profiles_app.PolicyVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="vms",
    )
    content_hash = models.CharField(max_length=64, blank=True)
    execution_flags = models.JSONField(default=list, blank=True)
    vcpus = models.PositiveIntegerField(default=0)
    memory_mib = models.PositiveIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(
        default=dict,
        blank=True,
        help_text='key=value labels, e.g. {"team": "payments"}; VM Persona\'s own, '
        "which the inventory sync leaves alone.",
    )
    running_qemu = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="The QEMU its process runs, read by the inventory sync once per start: "
        '{"version": "7.2.0", "package": "Debian 1:7.2+dfsg-7+deb12u6", "domain_id": 3, '
        '"read_at": ...}; empty while it does not run or was not read.',
    )
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["last_seen", "running_qemu"])

    class Meta:
        ordering = ["platform__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "domain_uuid"], name="managedvm_unique_domain"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.platform.name}"

    def get_absolute_url(self) -> str:
        return reverse("operations:vm", kwargs={"pk": self.pk})


class VMMetricSample(models.Model):
    """One utilisation sample of a VM, from libvirt's domain statistics."""

    vm = models.ForeignKey(ManagedVM, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField(db_index=True)
    cpu_time_ns = models.BigIntegerField(default=0)
    cpu_percent = models.FloatField(
        null=True, blank=True, help_text="Of the VM's vCPUs, since the previous sample."
    )
    memory_used_mib = models.FloatField(null=True, blank=True)
    memory_total_mib = models.FloatField(null=True, blank=True)
    disk_read_bytes = models.BigIntegerField(default=0)
    disk_write_bytes = models.BigIntegerField(default=0)
    net_rx_bytes = models.BigIntegerField(default=0)
    net_tx_bytes = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["vm", "-at"], name="vmmetric_vm_at")]

    def __str__(self) -> str:
        return f"{self.vm.name} at {self.at:%Y-%m-%d %H:%M:%S}"
