"""Advisories, their import, and a platform's host facts, as the API shows them."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from operations_app.models import Advisory, AdvisoryAffected, AdvisorySource


class AdvisoryListQuerySerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False, allow_blank=True, help_text="In the id, CVE, summary or a package name"
    )
    package = serializers.CharField(
        required=False, allow_blank=True, help_text="Only those affecting this package"
    )
    source = serializers.ChoiceField(
        choices=AdvisorySource.choices, required=False, allow_blank=True
    )


class AffectedSerializer(serializers.ModelSerializer):
    class Meta:
        model = AdvisoryAffected
        fields = ["ecosystem", "package", "ranges", "versions"]


class AdvisorySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="advisory_id")
    imported_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    affected = AffectedSerializer(many=True, read_only=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = Advisory
        fields = [
            "id",
            "source",
            "cve",
            "aliases",
            "summary",
            "cvss",
            "cvss_vector",
            "published",
            "modified",
            "imported_at",
            "imported_by",
            "affected",
            "links",
        ]

    def get_links(self, advisory) -> dict:
        path = reverse(
            "operations-api:advisory-detail", kwargs={"advisory_id": advisory.advisory_id}
        )
        request = self.context.get("request")
        return {"self": request.build_absolute_uri(path) if request else path}


class AdvisoryImportSerializer(serializers.Serializer):
    url = serializers.CharField(
        required=False, help_text="An http(s) URL to read the feed from (instead of a file)"
    )


class AdvisoryUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="An OSV or Debian security tracker JSON file")


class AdvisoryImportResultSerializer(serializers.Serializer):
    source = serializers.CharField()
    total = serializers.IntegerField()
    created = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField())


class HostFactsSerializer(serializers.Serializer):
    packages = serializers.JSONField(
        help_text="dpkg-query -W -f='${Package} ${Version}\\n' output as text, or "
        "{package: version}"
    )
    debian_release = serializers.CharField(
        required=False, help_text="bookworm, trixie, ... (default: the platform's, or bookworm)"
    )


class HostFactsResultSerializer(serializers.Serializer):
    platform = serializers.CharField()
    debian_release = serializers.CharField()
    imported_at = serializers.DateTimeField(allow_null=True)
    packages = serializers.DictField()
    exposure = serializers.ListField(child=serializers.DictField())
