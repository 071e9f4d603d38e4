"""Hypervisor platforms and the base images available on them."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords


class PlatformStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    OK = "ok", "Reachable"
    UNREACHABLE = "unreachable", "Unreachable"


class KvmPolicy(models.TextChoices):
    AUTO = "auto", "Detect"
    USE = "use", "Use KVM when listed"
    AVOID = "avoid", "Never use KVM (software emulation)"


class Platform(models.Model):
    """A libvirt host (or cluster endpoint) that VMs are cloned onto and migrated between."""

    name = models.SlugField(max_length=63, unique=True)
    uri = models.CharField(
        max_length=500,
        help_text="libvirt URI: qemu:///system, qemu+ssh://user@host/system, qemu+tls://host/system, "
        "qemu+unix:///system?socket=/path, test:///default",
    )
    migration_uri = models.CharField(
        max_length=500,
        blank=True,
        help_text="How other hosts' libvirtd reach this one as a peer-to-peer migration destination, "
        "when it differs from the URI above (e.g. qemu+tls://host-b.example/system).",
    )
    description = models.TextField(blank=True)
    site = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    enabled = models.BooleanField(default=True)

    # Cost rates, for cost-driven scheduling.
    currency = models.CharField(
        max_length=3,
        default="EUR",
        validators=[RegexValidator(r"^[A-Z]{3}$", "An ISO 4217 code, e.g. EUR.")],
    )
    cost_vcpu_hour = models.DecimalField(
        max_digits=10, decimal_places=5, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    cost_ram_gib_hour = models.DecimalField(
        max_digits=10, decimal_places=5, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    cost_storage_gib_month = models.DecimalField(
        max_digits=10, decimal_places=5, default=Decimal("0"), validators=[MinValueValidator(0)]
    )

    # Where things go on this platform.
    storage_pool = models.CharField(
        max_length=100, default="default", help_text="Storage pool for VM disks and volumes."
    )
    networks = models.JSONField(
        default=list, blank=True, help_text="Names of the libvirt networks VMs may join."
    )
    vlan_networks = models.JSONField(
        default=dict,
        blank=True,
        help_text='VLAN id to libvirt network, for hosts without Open vSwitch: {"100": "persona-vlan-100"}.',
    )
    kvm = models.CharField(max_length=10, choices=KvmPolicy.choices, default=KvmPolicy.AUTO)

    # Declared constraints on top of what libvirt reports (see operations_app.constraints).
    constraints = models.JSONField(default=dict, blank=True)

    # key=value labels that maintenance windows and scheduling policies select by
    # (operations_app.labels).
    labels = models.JSONField(
        default=dict, blank=True, help_text='key=value labels, e.g. {"rack": "r12"}.'
    )

    # The last capabilities read from the host.
    capabilities = models.JSONField(default=dict, blank=True, editable=False)
    capabilities_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The host's packages, imported from dpkg-query (services.advisories.platform_facts_import):
    # {"packages": {binary: {"version", "source"}}, "debian_release": "bookworm"}.
    host_facts = models.JSONField(default=dict, blank=True, editable=False)
    host_facts_imported_at = models.DateTimeField(null=True, blank=True, editable=False)
    status = models.CharField(
        max_length=20,
        choices=PlatformStatus.choices,
        default=PlatformStatus.UNKNOWN,
        editable=False,
    )
    last_error = models.TextField(blank=True, editable=False)
    last_synced_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(
        excluded_fields=[
            "capabilities",
            "capabilities_refreshed_at",
            "host_facts",
            "host_facts_imported_at",
            "last_synced_at",
            "updated_at",
        ]
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("operations:platform", kwargs={"name": self.name})


class BaseImage(models.Model):
    """A core OS image a VPPD's ``base_image_id`` points at."""

    image_id = models.SlugField(
        max_length=100, unique=True, help_text="What base_image_id in a VPPD names."
    )
    name = models.CharField(max_length=200)
    os = models.CharField(max_length=100, blank=True)
    format = models.CharField(
        max_length=10, default="qcow2", choices=[("qcow2", "qcow2"), ("raw", "raw")]
    )
    checksum = models.CharField(max_length=80, blank=True, help_text="sha256 of the image file.")
    virtual_size_bytes = models.BigIntegerField(default=0)
    min_vcpus = models.PositiveIntegerField(default=1)
    min_memory_mib = models.PositiveIntegerField(default=64)
    # Direct kernel boot, for images without a boot loader (the tiny test guest).
    kernel = models.CharField(max_length=500, blank=True)
    initrd = models.CharField(max_length=500, blank=True)
    cmdline = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["image_id"]

    def __str__(self) -> str:
        return self.image_id

    @property
    def direct_boot(self) -> bool:
        return bool(self.kernel)


class BaseImageLocation(models.Model):
    """Where a base image's file lies on one platform."""

    image = models.ForeignKey(BaseImage, on_delete=models.CASCADE, related_name="locations")
    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="image_locations")
    path = models.CharField(
        max_length=500, help_text="Path of the image file as the platform's host sees it."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "platform"], name="baseimagelocation_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.image.image_id} on {self.platform.name}"
