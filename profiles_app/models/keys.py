"""Volume keys held by the product, encrypted at rest with the key-encryption key."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class VolumeKey(models.Model):
    """A data volume's encryption key. Only the ciphertext is ever stored.

    ``name`` is what a VPPD's ``key_ref`` names. The plain key is recovered only by
    ``profiles_app.services.keys.volume_key_reveal`` at the moment a volume secret is
    handed to the hypervisor.
    """

    name = models.SlugField(max_length=100, unique=True)
    ciphertext = models.TextField(editable=False)
    fingerprint = models.CharField(
        max_length=16,
        editable=False,
        help_text="First hex digits of a keyed hash; lets people tell keys apart.",
    )
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["ciphertext"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
