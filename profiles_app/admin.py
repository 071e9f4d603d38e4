"""Admin for policies. Writes go through the same services as pages, API and CLI."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from profiles_app.documents import pretty_json
from profiles_app.models import Policy, PolicyVersion, VolumeKey
from profiles_app.services import versions as version_services
from vmpersona.errors import DomainError, error_list


class PolicyVersionInline(admin.TabularInline):
    model = PolicyVersion
    fields = ("number", "status", "author", "reviewer", "content_hash", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Policy)
class PolicyAdmin(SimpleHistoryAdmin):
    list_display = ("name", "kind", "created_by", "created_at", "updated_at")
    list_filter = ("kind",)
    search_fields = ("name", "description")
    readonly_fields = ("kind", "name", "created_by", "created_at", "updated_at")
    fields = ("kind", "name", "description", "created_by", "created_at", "updated_at")
    inlines = [PolicyVersionInline]

    def has_add_permission(self, request):
        # A profile is born with its first draft: create it from the pages, API or CLI.
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _run(modeladmin, request, queryset, action, **kwargs):
    done = 0
    for version in queryset:
        try:
            action(user=request.user, version=version, **kwargs)
            done += 1
        except ValidationError as exc:
            msgs = "; ".join(
                f"{e['path']}: {e['message']}" if e["path"] else e["message"]
                for e in error_list(exc)
            )
            modeladmin.message_user(request, f"{version.label}: {msgs}", messages.ERROR)
        except DomainError as exc:
            modeladmin.message_user(request, f"{version.label}: {exc}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{done} version(s) updated.", messages.SUCCESS)


@admin.register(PolicyVersion)
class PolicyVersionAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "status", "author", "reviewer", "created_at", "reviewed_at")
    list_filter = ("status", "policy__kind")
    search_fields = ("policy__name", "change_note", "review_comment")
    list_select_related = ("policy", "author", "reviewer")
    readonly_fields = (
        "policy",
        "number",
        "status",
        "content_hash",
        "parent",
        "author",
        "reviewer",
        "review_comment",
        "change_note",
        "created_at",
        "submitted_at",
        "reviewed_at",
        "document_pretty",
    )
    exclude = ("document",)
    actions = [
        "submit_versions",
        "approve_versions",
        "reject_versions",
        "retire_versions",
        "clone_version",
    ]

    @admin.display(description="Document")
    def document_pretty(self, obj):
        return format_html(
            "<pre style='white-space:pre-wrap'>{}</pre>",
            pretty_json(obj.document, kind=obj.policy.kind),
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Submit selected drafts for approval")
    def submit_versions(self, request, queryset):
        _run(self, request, queryset, version_services.version_submit)

    @admin.action(description="Approve selected versions")
    def approve_versions(self, request, queryset):
        _run(self, request, queryset, version_services.version_approve, comment="approved in admin")

    @admin.action(description="Reject selected versions")
    def reject_versions(self, request, queryset):
        _run(self, request, queryset, version_services.version_reject, comment="rejected in admin")

    @admin.action(description="Retire selected versions")
    def retire_versions(self, request, queryset):
        _run(self, request, queryset, version_services.version_retire)

    @admin.action(description="Clone the selected approved version to a platform…")
    def clone_version(self, request, queryset):
        """Ask for a platform and a VM name, then start a clone job (the same service as
        the pages, the API and the CLI)."""
        from django.shortcuts import redirect
        from django.template.response import TemplateResponse

        from operations_app.models import Platform
        from operations_app.services.clones import job_request_clone

        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one approved version to clone.", messages.ERROR
            )
            return None
        version = queryset.select_related("policy").first()
        platforms = Platform.objects.filter(enabled=True).order_by("name")
        errors: list[str] = []
        vm_name = request.POST.get("vm_name", "")
        chosen = request.POST.get("platform", "")
        if "apply" in request.POST:
            platform = platforms.filter(name=chosen).first()
            if platform is None:
                errors.append("Choose an enabled platform.")
            else:
                try:
                    job = job_request_clone(
                        user=request.user, version=version, platform=platform, vm_name=vm_name
                    )
                except ValidationError as exc:
                    errors += [
                        f"{e['path']}: {e['message']}" if e["path"] else e["message"]
                        for e in error_list(exc)
                    ]
                except DomainError as exc:
                    errors.append(str(exc))
                else:
                    self.message_user(
                        request, f"Clone job #{job.pk} queued for {job.vm_name}.", messages.SUCCESS
                    )
                    return redirect(job.get_absolute_url())
        return TemplateResponse(
            request,
            "admin/profiles_app/clone_version.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Clone {version.label}",
                "version": version,
                "platforms": platforms,
                "chosen_platform": chosen,
                "vm_name": vm_name,
                "errors": errors,
                "back": request.get_full_path(),
            },
        )


@admin.register(VolumeKey)
class VolumeKeyAdmin(SimpleHistoryAdmin):
    list_display = ("name", "fingerprint", "description", "created_by", "created_at", "rotated_at")
    search_fields = ("name", "description")
    fields = ("name", "fingerprint", "description", "created_by", "created_at", "rotated_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
