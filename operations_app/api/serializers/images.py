"""Base images and where they lie on each platform."""

from __future__ import annotations

from rest_framework import serializers


class ImageLocationSerializer(serializers.Serializer):
    platform = serializers.CharField(source="platform.name")
    path = serializers.CharField(help_text="Path of the image file as the platform's host sees it")


class BaseImageSerializer(serializers.Serializer):
    image_id = serializers.CharField(help_text="What base_image_id in a VPPD names")
    name = serializers.CharField()
    os = serializers.CharField()
    format = serializers.CharField()
    checksum = serializers.CharField(help_text="sha256 of the image file")
    virtual_size_bytes = serializers.IntegerField()
    min_vcpus = serializers.IntegerField()
    min_memory_mib = serializers.IntegerField()
    direct_boot = serializers.BooleanField(help_text="Boots a kernel directly (no boot loader)")
    kernel = serializers.CharField()
    initrd = serializers.CharField()
    cmdline = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    locations = ImageLocationSerializer(many=True)
