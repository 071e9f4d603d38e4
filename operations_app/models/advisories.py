"""Security advisories imported from OSV and the Debian security tracker, and the
packages each affects (``services.advisories``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class AdvisorySource(models.TextChoices):
    OSV = "osv", "OSV"
    DEBIAN_TRACKER = "debian-tracker", "Debian security tracker"


class Advisory(models.Model):
    """One advisory as one feed gives it; importing it again updates it."""

    advisory_id = models.CharField(
        max_length=100, help_text="CVE-2024-1234, DSA-5599-1, GHSA-..., PYSEC-..."
    )
    source = models.CharField(max_length=20, choices=AdvisorySource.choices)
    cve = models.CharField(
        max_length=100,
        db_index=True,
        help_text="The CVE it is about (its id or first CVE alias), else its id: the same "
        "flaw from two feeds counts once.",
    )
    aliases = models.JSONField(default=list, blank=True)
    summary = models.TextField(blank=True)
    cvss = models.FloatField(null=True, blank=True, help_text="CVSS base score, 0 to 10.")
    cvss_vector = models.CharField(max_length=200, blank=True)
    published = models.DateTimeField(null=True, blank=True)
    modified = models.DateTimeField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    imported_at = models.DateTimeField()
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-cvss", "advisory_id", "source"]
        verbose_name_plural = "advisories"
        constraints = [
            models.UniqueConstraint(fields=["source", "advisory_id"], name="advisory_unique_id")
        ]

    def __str__(self) -> str:
        return f"{self.advisory_id} ({self.source})"


class AdvisoryAffected(models.Model):
    """A package an advisory affects in one ecosystem: OSV ranges and versions as JSON."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="affected")
    ecosystem = models.CharField(max_length=100, help_text="Debian:12, Debian, PyPI, ...")
    package = models.CharField(max_length=200, db_index=True)
    ranges = models.JSONField(default=list, blank=True)
    versions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["advisory", "ecosystem", "package"]
        verbose_name_plural = "affected packages"

    def __str__(self) -> str:
        return f"{self.package} ({self.ecosystem})"

    def as_dict(self) -> dict:
        return {
            "ecosystem": self.ecosystem,
            "package": self.package,
            "ranges": self.ranges,
            "versions": self.versions,
        }


class AdvisoryFeed(models.Model):
    """A feed URL imported periodically (``VMPERSONA_ADVISORY_FEEDS``) and how its last
    imports went."""

    url = models.URLField(max_length=2000, unique=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_counts = models.JSONField(
        default=dict, blank=True, help_text='The last successful import: {"total", "created", ...}'
    )
    failures = models.PositiveIntegerField(
        default=0, help_text="Failed imports in a row (0: the last one succeeded)"
    )
    failure_notified = models.BooleanField(
        default=False, help_text="The administrators were told of the current failure streak"
    )

    class Meta:
        ordering = ["url"]

    def __str__(self) -> str:
        return self.url

    @property
    def failing(self) -> bool:
        return self.failures > 0
