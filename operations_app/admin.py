"""The admin: platforms, inventory, images, jobs, notifications, snapshots, maintenance
windows and host maintenance.

Actions call the same services as the pages, the API and the CLI. Job and snapshot
rows are read-only here: they change only through those services and the runners. A
VM's or a platform's labels are edited as JSON and saved by the labels service.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from operations_app.labels import label_errors
from operations_app.models import (
    APPROVAL_KINDS,
    Advisory,
    AdvisoryAffected,
    BaseImage,
    BaseImageLocation,
    HostMaintenance,
    JobResource,
    JobStep,
    MaintenanceWindow,
    ManagedVM,
    Notification,
    OperationJob,
    Platform,
    VerificationCheck,
    VMMetricSample,
    VMSnapshot,
)
from operations_app.presentation.maintenance import STATUS_WORDS
from operations_app.services import decommissions as decommission_services
from operations_app.services import inventory as inventory_services
from operations_app.services import jobs as job_services
from operations_app.services import labels as label_services
from operations_app.services import maintenance as maintenance_services
from operations_app.services import migrations as migration_services
from operations_app.services import platforms as platform_services
from operations_app.services import snapshots as snapshot_services
from operations_app.services import windows as window_services
from operations_app.windows import describe, next_occurrence
from vmpersona.errors import DomainError, error_list, error_text
from vmpersona.roles import OPERATORS, has_role


class LabelsAdminForm(forms.ModelForm):
    """Checks ``labels`` by the same rules as every other path, each error with its path."""

    def clean_labels(self):
        labels = self.cleaned_data.get("labels")
        if labels is None:
            labels = {}
        problems = label_errors(labels)
        if problems:
            raise ValidationError([f"{e.path}: {e.message}" for e in problems])
        return labels


def _save_labels(admin_site, request, change, labels) -> None:
    """Save the labels through the service (role check, "labels changed" history)."""
    try:
        change(labels)
    except (ValidationError, DomainError) as exc:
        admin_site.message_user(request, f"Labels not saved: {error_text(exc)}", messages.ERROR)


@admin.register(Platform)
class PlatformAdmin(SimpleHistoryAdmin):
    form = LabelsAdminForm
    list_display = (
        "name",
        "uri",
        "status",
        "enabled",
        "site",
        "region",
        "labels",
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

    def save_model(self, request, obj, form, change):
        if not change or "labels" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        labels = obj.labels
        obj.labels = Platform.objects.get(pk=obj.pk).labels
        if set(form.changed_data) - {"labels"}:
            super().save_model(request, obj, form, change)
        _save_labels(
            self,
            request,
            lambda new: label_services.platform_labels_set(
                user=request.user, platform=obj, labels=new, replace=True
            ),
            labels,
        )

    @admin.action(description="Refresh capabilities")
    def refresh(self, request, queryset):
        for platform in queryset:
            try:
                platform = platform_services.platform_refresh(platform=platform, user=request.user)
            except DomainError as exc:
                self.message_user(request, f"{platform.name}: {exc}", messages.ERROR)
                continue
            level = messages.SUCCESS if platform.status == "ok" else messages.ERROR
            self.message_user(
                request,
                f"{platform.name}: {platform.get_status_display()} {platform.last_error}",
                level,
            )

    @admin.action(description="Sync inventory")
    def sync_inventory(self, request, queryset):
        for platform in queryset:
            try:
                r = inventory_services.inventory_sync(platform=platform, user=request.user)
            except DomainError as exc:
                self.message_user(request, f"{platform.name}: {exc}", messages.ERROR)
                continue
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
    """Read-only but for the labels, which the labels service saves."""

    form = LabelsAdminForm
    list_display = (
        "name",
        "platform",
        "state",
        "managed",
        "profile_version",
        "labels",
        "last_seen",
    )
    list_filter = ("platform", "state", "managed")
    search_fields = ("name", "domain_uuid")
    list_select_related = ("platform", "profile_version__policy")
    readonly_fields = [f.name for f in ManagedVM._meta.fields if f.name != "labels"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        if "labels" in form.changed_data:
            _save_labels(
                self,
                request,
                lambda new: label_services.vm_labels_set(
                    user=request.user, vm=obj, labels=new, replace=True
                ),
                obj.labels,
            )


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


# --- Jobs and notifications ------------------------------------------------------------
# Jobs are read-only here: they change only through their services (cancel below, and
# the runner that works them).


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class JobStepInline(_ReadOnlyInline):
    model = JobStep
    fields = ("index", "name", "title", "status", "started_at", "finished_at", "output")
    readonly_fields = fields


class VerificationCheckInline(_ReadOnlyInline):
    model = VerificationCheck
    fields = ("index", "section", "pointer", "name", "source", "expected", "actual", "passed")
    readonly_fields = fields


class JobResourceInline(_ReadOnlyInline):
    model = JobResource
    fields = ("kind", "identifier", "platform", "created_at", "released_at", "removed_at")
    readonly_fields = fields


@admin.register(OperationJob)
class OperationJobAdmin(SimpleHistoryAdmin):
    list_display = (
        "id",
        "kind",
        "vm_name",
        "profile_version",
        "platform",
        "status",
        "progress",
        "requested_by",
        "trigger",
        "created_at",
        "finished_at",
    )
    list_filter = ("kind", "status", "trigger", "platform", "cancel_requested")
    search_fields = ("vm_name", "=id", "=uuid", "error", "requested_by__username")
    list_select_related = ("platform", "profile_version__policy", "requested_by")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in OperationJob._meta.fields]
    inlines = [JobStepInline, VerificationCheckInline, JobResourceInline]
    actions = ["cancel_jobs"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            try:
                job = job_services.job_cancel(user=request.user, job=job)
            except DomainError as exc:
                self.message_user(request, f"#{job.pk}: {exc}", messages.ERROR)
                continue
            outcome = "cancelled" if job.status == "cancelled" else "cancel requested"
            self.message_user(request, f"#{job.pk} {job.vm_name}: {outcome}")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "recipient", "severity", "message", "read", "job")
    list_filter = ("severity", "read")
    search_fields = ("message", "recipient__username")
    list_select_related = ("recipient", "job")
    readonly_fields = ("recipient", "severity", "message", "link", "job", "created_at")


@admin.action(description="Decommission selected VMs")
def decommission_vms(modeladmin, request, queryset):
    for vm in queryset.select_related("platform", "profile_version"):
        try:
            job = decommission_services.job_request_decommission(user=request.user, vm=vm)
        except DomainError as exc:
            modeladmin.message_user(request, f"{vm.name}: {exc}", messages.ERROR)
            continue
        modeladmin.message_user(request, f"{vm.name}: decommission queued as job #{job.pk}")


def _queue_each(modeladmin, request, vms, request_job, queued) -> None:
    """Queue a job for each VM with ``request_job(vm)``; one message per VM: ``queued(job)``
    or each reason it was refused."""
    for vm in vms:
        try:
            job = request_job(vm)
        except ValidationError as exc:
            for e in error_list(exc):
                where = f"{e['path']}: " if e["path"] else ""
                modeladmin.message_user(
                    request, f"{vm.name}: {where}{e['message']}", messages.ERROR
                )
        except DomainError as exc:
            modeladmin.message_user(request, f"{vm.name}: {exc}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{vm.name}: {queued(job)}", messages.SUCCESS)


@admin.action(description="Migrate to another platform…")
def migrate_vms(modeladmin, request, queryset):
    """Ask for a target platform and a mode, then queue a migration of each selected VM
    (the same service as the pages, the API and the CLI)."""
    vms = list(queryset.select_related("platform", "profile_version__policy").order_by("name"))
    platforms = Platform.objects.filter(enabled=True).order_by("name")
    chosen = request.POST.get("target", "")
    mode = request.POST.get("mode", "auto")
    errors: list[str] = []
    if "apply" in request.POST:
        target = platforms.filter(name=chosen).first()
        if target is None:
            errors.append("target: choose an enabled platform.")
        else:
            _queue_each(
                modeladmin,
                request,
                vms,
                lambda vm: migration_services.job_request_migrate(
                    user=request.user, vm=vm, target=target, mode=mode
                ),
                lambda job: f"migration to {target.name} ({mode}) queued as job #{job.pk}",
            )
            return None
    return TemplateResponse(
        request,
        "admin/operations_app/migrate_vms.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": "Migrate to another platform",
            "opts": modeladmin.model._meta,
            "vms": vms,
            "platforms": platforms,
            "modes": migration_services.MIGRATION_MODES,
            "chosen_target": chosen,
            "chosen_mode": mode,
            "errors": errors,
            "back": request.get_full_path(),
        },
    )


# --- Snapshots ----------------------------------------------------------------------------
# Taken, rolled back to and removed by jobs; the rows are read-only here.


@admin.action(description="Take a snapshot")
def snapshot_vms(modeladmin, request, queryset):
    """Queue a snapshot of each selected VM (the same service as the pages, the API and
    the CLI)."""
    _queue_each(
        modeladmin,
        request,
        queryset.select_related("platform", "profile_version").order_by("name"),
        lambda vm: snapshot_services.job_request_snapshot(user=request.user, vm=vm),
        lambda job: f"snapshot queued as job #{job.pk}",
    )


ManagedVMAdmin.actions = [
    *(ManagedVMAdmin.actions or []),
    decommission_vms,
    migrate_vms,
    snapshot_vms,
]


@admin.register(VMSnapshot)
class VMSnapshotAdmin(admin.ModelAdmin):
    list_display = ("vm", "name", "platform", "origin", "with_memory", "created_at", "removed_at")
    list_filter = ("origin", "with_memory", "platform")
    search_fields = ("name", "vm__name", "description")
    list_select_related = ("vm", "platform")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in VMSnapshot._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Maintenance windows -------------------------------------------------------------------
# Saved and deleted through the windows service (operators role, the same checks as the
# pages, the API and the CLI, one history row per change with the scope).


class MaintenanceWindowAdminForm(forms.ModelForm):
    """Checks the window with the service's rules; each error beside its field."""

    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=MaintenanceWindow._meta.get_field("webhook_url").help_text,
    )
    approval_kinds = forms.MultipleChoiceField(
        required=False,
        choices=[(k.value, k.label) for k in APPROVAL_KINDS],
        widget=forms.CheckboxSelectMultiple,
        help_text="With 'approval required': the job kinds it is about. None checked: every kind.",
    )

    class Meta:
        model = MaintenanceWindow
        fields = window_services.EDITABLE_FIELDS

    def clean(self):
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        data = {k: v for k, v in cleaned.items() if k in window_services.EDITABLE_FIELDS}
        for key in window_services.SCOPE_RELATIONS:
            if key in data:
                data[key] = list(data[key])
        window = self.instance if self.instance.pk else None
        for path, message in window_services.window_problems(data, window=window):
            field = path.split("/")[0]
            where = f"{path}: " if "/" in path else ""
            self.add_error(field if field in self.fields else None, f"{where}{message}")
        return cleaned


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(SimpleHistoryAdmin):
    form = MaintenanceWindowAdminForm
    list_display = (
        "name",
        "kind",
        "enabled",
        "when",
        "next_opening",
        "cutoff_minutes",
        "updated_at",
    )
    list_filter = ("kind", "enabled", "approval_required", "timezone", "platforms", "profiles")
    search_fields = ("name", "description", "rrule")
    filter_horizontal = ("platforms", "profiles")
    readonly_fields = ("created_by", "created_at", "updated_at")

    @admin.display(description="When")
    def when(self, obj):
        return describe(obj.rule())

    @admin.display(description="Next opening (UTC)")
    def next_opening(self, obj):
        occurrence = next_occurrence(obj.rule(), timezone.now(), inclusive=True)
        return occurrence.start if occurrence else "-"

    def _operator(self, request) -> bool:
        return has_role(request.user, OPERATORS)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and self._operator(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._operator(request)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._operator(request)

    def save_model(self, request, obj, form, change):
        data = {k: v for k, v in form.cleaned_data.items() if k in window_services.EDITABLE_FIELDS}
        for key in window_services.SCOPE_RELATIONS:
            if key in data:
                data[key] = list(data[key])
        if change:
            saved = window_services.window_update(user=request.user, window=obj, data=data)
        else:
            saved = window_services.window_create(user=request.user, data=data)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        """The service has set the scope already (in the same history row)."""

    def delete_model(self, request, obj):
        window_services.window_delete(user=request.user, window=obj)

    def delete_queryset(self, request, queryset):
        for window in queryset:
            window_services.window_delete(user=request.user, window=window)


# --- Host maintenance ----------------------------------------------------------------------
# Started and ended through the maintenance service (the platform page, the API, the CLI
# and the action below); the rows are read-only here, their JSON shown as tables and
# indented text.


@admin.register(HostMaintenance)
class HostMaintenanceAdmin(SimpleHistoryAdmin):
    list_display = (
        "platform",
        "state",
        "window",
        "move_back",
        "progress",
        "requested_by",
        "started_at",
        "evacuated_at",
        "ended_at",
    )
    list_filter = ("state", "platform", "window", "move_back")
    search_fields = ("platform__name", "reason", "requested_by__username")
    list_select_related = ("platform", "window", "requested_by")
    date_hierarchy = "started_at"
    fields = (
        "platform",
        "state",
        "window",
        "move_back",
        "reason",
        "requested_by",
        "started_at",
        "evacuated_at",
        "ended_by",
        "ended_at",
        "vm_table",
        "summary",
        "summarized_occurrence",
        "plan_text",
        "vms_text",
    )
    readonly_fields = fields
    actions = ["end_maintenance"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="VMs")
    def progress(self, obj):
        statuses = [info.get("status", "") for info in (obj.vms or {}).values()]
        moved = statuses.count("moved")
        return f"{moved} of {len(statuses)} moved" if statuses else "-"

    @admin.display(description="What became of each VM")
    def vm_table(self, obj):
        if not obj.vms:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    name,
                    STATUS_WORDS.get(info.get("status", ""), info.get("status", "")),
                    info.get("target") or "-",
                    info.get("path") or "-",
                    f"#{info['job']}" if info.get("job") else "-",
                    info.get("reason") or info.get("back") or "",
                )
                for name, info in sorted(obj.vms.items())
            ),
        )
        return format_html(
            "<table><thead><tr><th>VM</th><th>Status</th><th>Target</th><th>Path</th>"
            "<th>Job</th><th>Why</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @staticmethod
    def _json(value) -> str:
        return format_html(
            '<pre style="white-space:pre-wrap;max-height:480px;overflow:auto;margin:0">{}</pre>',
            json.dumps(value or {}, indent=2, sort_keys=True, ensure_ascii=False),
        )

    @admin.display(description="Evacuation plan confirmed (JSON)")
    def plan_text(self, obj):
        return self._json(obj.plan)

    @admin.display(description="VMs (JSON)")
    def vms_text(self, obj):
        return self._json(obj.vms)

    @admin.action(description="End maintenance (move the VMs back as requested)")
    def end_maintenance(self, request, queryset):
        for maintenance in queryset.select_related("platform"):
            if not maintenance.active:
                continue
            try:
                maintenance_services.maintenance_end(
                    user=request.user, platform=maintenance.platform
                )
            except DomainError as exc:
                self.message_user(request, f"{maintenance.platform.name}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"{maintenance.platform.name}: back in service")


class AdvisoryAffectedInline(_ReadOnlyInline):
    model = AdvisoryAffected
    fields = ("ecosystem", "package", "ranges", "versions")


@admin.register(Advisory)
class AdvisoryAdmin(SimpleHistoryAdmin):
    """Advisories are imported (``persona advisory import``, the API), not edited here:
    the next import would overwrite an edit."""

    list_display = ("advisory_id", "source", "cve", "cvss", "modified", "imported_at")
    list_filter = ("source",)
    search_fields = ("advisory_id", "cve", "summary", "affected__package")
    inlines = [AdvisoryAffectedInline]
    readonly_fields = [
        "advisory_id",
        "source",
        "cve",
        "aliases",
        "summary",
        "cvss",
        "cvss_vector",
        "published",
        "modified",
        "content_hash",
        "imported_at",
        "imported_by",
    ]

    def has_add_permission(self, request):
        return False
