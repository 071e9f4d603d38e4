from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from operations_app.models import BaseImage, BaseImageLocation, ManagedVM, Platform, VMMetricSample
from operations_app.services import inventory as inventory_services
from operations_app.services import platforms as platform_services


@admin.register(Platform)
class PlatformAdmin(SimpleHistoryAdmin):
    list_display = (
        "name",
        "uri",
        "status",
        "enabled",
        "site",
        "region",
        "capabilities_refreshed_at",
    )
    list_filter = ("enabled", "status", "site", "region")
    search_fields = ("name", "uri", "description")
    readonly_fields = (
        "status",
        "last_error",
        "capabilities_refreshed_at",
        "last_synced_at",
        "capabilities",
    )
    actions = ["refresh", "sync_inventory"]

    @admin.action(description="Refresh capabilities")
    def refresh(self, request, queryset):
        for platform in queryset:
            platform = platform_services.platform_refresh(platform=platform)
            level = messages.SUCCESS if platform.status == "ok" else messages.ERROR
            self.message_user(
                request,
                f"{platform.name}: {platform.get_status_display()} {platform.last_error}",
                level,
            )

    @admin.action(description="Sync inventory")
    def sync_inventory(self, request, queryset):
        for platform in queryset:
            r = inventory_services.inventory_sync(platform=platform)
            if r.reachable:
                self.message_user(
                    request,
                    f"{platform.name}: {r.seen} domains, {len(r.added)} new, {len(r.gone)} gone",
                )
            else:
                self.message_user(request, f"{platform.name}: {r.error}", messages.ERROR)


class BaseImageLocationInline(admin.TabularInline):
    model = BaseImageLocation
    extra = 0


@admin.register(BaseImage)
class BaseImageAdmin(SimpleHistoryAdmin):
    list_display = ("image_id", "name", "os", "format", "min_vcpus", "min_memory_mib")
    search_fields = ("image_id", "name", "os")
    inlines = [BaseImageLocationInline]


@admin.register(ManagedVM)
class ManagedVMAdmin(SimpleHistoryAdmin):
    list_display = ("name", "platform", "state", "managed", "profile_version", "last_seen")
    list_filter = ("platform", "state", "managed")
    search_fields = ("name", "domain_uuid")
    list_select_related = ("platform", "profile_version__policy")
    readonly_fields = [f.name for f in ManagedVM._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(VMMetricSample)
class VMMetricSampleAdmin(admin.ModelAdmin):
    list_display = (
        "vm",
        "at",
        "cpu_percent",
        "memory_used_mib",
        "disk_read_bytes",
        "disk_write_bytes",
        "net_rx_bytes",
        "net_tx_bytes",
    )
    list_filter = ("vm__platform",)
    list_select_related = ("vm__platform",)
    readonly_fields = [f.name for f in VMMetricSample._meta.fields]

    def has_add_permission(self, request):
        return False
