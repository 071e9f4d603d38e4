"""The platform, inventory, image and VM label subcommands of ``manage.py persona``:
which platforms a command names, a platform's settings from the options, label changes
from ``KEY=VALUE`` arguments, and the listings.

Changes go through the same services as the pages and the API; the listings read
through the selectors.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError

from operations_app.hypervisor import redact_uri
from operations_app.labels import labels_text, parse_keys, parse_labels
from operations_app.management.job_cli import Output
from operations_app.models import ManagedVM, Platform
from operations_app.selectors import images as image_selectors
from operations_app.selectors import platforms as platform_selectors
from operations_app.selectors import vms as vm_selectors
from operations_app.services import labels as label_services
from vmpersona.errors import DomainError, field_error

# The platform options passed to the services as they are.
SETTINGS = (
    "description",
    "site",
    "region",
    "storage_pool",
    "migration_uri",
    "networks",
    "kvm",
    "currency",
    "cost_vcpu_hour",
    "cost_ram_gib_hour",
    "cost_storage_gib_month",
    "enabled",
)


def platform_named(name: str) -> Platform:
    try:
        return Platform.objects.get(name=name)
    except Platform.DoesNotExist as exc:
        raise DomainError(f"No platform named '{name}'.") from exc


def platforms_named(names: list[str]) -> list[Platform]:
    """The named platforms, or every enabled one when none is named."""
    if names:
        return [platform_named(n) for n in names]
    return list(Platform.objects.filter(enabled=True))


def platform_settings(opts: dict) -> dict:
    """The settings the options give (``--vlan ID=NETWORK``, ``--constraints JSON``...),
    as ``platform_create`` and ``platform_update`` take them."""
    fields = {key: opts[key] for key in SETTINGS if opts.get(key) is not None}
    if opts.get("vlans"):
        mapping = {}
        for item in opts["vlans"]:
            vlan, _, network = item.partition("=")
            mapping[vlan.strip()] = network.strip()
        fields["vlan_networks"] = mapping
    if opts.get("constraints"):
        try:
            fields["constraints"] = json.loads(opts["constraints"])
        except ValueError as exc:
            raise ValidationError(
                "%(path)s: %(message)s",
                params={"path": "constraints", "message": f"not JSON: {exc}"},
            ) from exc
    return fields


def status_line(p: Platform) -> str:
    """The platform's status, with the last error when there is one."""
    return p.get_status_display() + (f" ({p.last_error})" if p.last_error else "")


def print_platforms(out: Output, *, label: str = "") -> None:
    """The platforms (those the ``label`` selector picks), one a line."""
    out.write(f"{'NAME':<16} {'STATUS':<12} {'ENABLED':<8} {'VMS':>4}  URI")
    for p in platform_selectors.platform_list(label=label):
        vm_count = p.vm_count  # type: ignore[attr-defined]  # annotated by the selector
        out.write(
            f"{p.name:<16} {p.status:<12} {('yes' if p.enabled else 'no'):<8} {vm_count:>4}  {redact_uri(p.uri)}"
        )


def print_platform(out: Output, p: Platform) -> None:
    """The platform's settings and capabilities as JSON, its URIs without credentials."""
    data = {
        "name": p.name,
        "uri": redact_uri(p.uri),
        "migration_uri": redact_uri(p.migration_uri) if p.migration_uri else "",
        "status": p.status,
        "enabled": p.enabled,
        "site": p.site,
        "region": p.region,
        "storage_pool": p.storage_pool,
        "networks": p.networks,
        "vlan_networks": p.vlan_networks,
        "kvm": p.kvm,
        "constraints": p.constraints,
        "labels": p.labels,
        "costs": {
            "currency": p.currency,
            "vcpu_hour": str(p.cost_vcpu_hour),
            "ram_gib_hour": str(p.cost_ram_gib_hour),
            "storage_gib_month": str(p.cost_storage_gib_month),
        },
        "capabilities": p.capabilities,
        "last_error": p.last_error,
    }
    out.write(json.dumps(data, indent=2, default=str))


def print_vms(out: Output, *, label: str = "") -> None:
    """The VMs (those the ``label`` selector picks), one a line."""
    out.write(f"{'NAME':<24} {'PLATFORM':<12} {'STATE':<9} {'MANAGED':<8} PROFILE")
    for vm in vm_selectors.vm_list(label=label):
        profile = vm.profile_version.label if vm.profile_version else "-"
        out.write(
            f"{vm.name:<24} {vm.platform.name:<12} {vm.state:<9} {('yes' if vm.managed else 'no'):<8} {profile}"
        )


# --------------------------------------------------------------------------- labels


def label_changes(pairs: list[str], remove: list[str]) -> tuple[dict[str, str], list[str]]:
    """``KEY=VALUE`` arguments and ``--remove KEY`` options as the labels service takes
    them; invalid input names the argument (``labels/<n>``, ``remove/<n>``, from 0)."""
    labels, errors = parse_labels(pairs)
    keys, key_errors = parse_keys(remove)
    problems = [field_error(e.path, e.message) for e in [*errors, *key_errors]]
    if problems:
        raise ValidationError(problems)
    return labels, keys


def _change_labels(change, obj, opts: dict, user):
    """Apply the options' change with ``change`` (a labels service); only show the labels
    when the options change nothing."""
    pairs, remove, replace = opts["pairs"], opts["remove"], opts["replace"]
    if not pairs and not remove and not replace:
        return obj
    labels, keys = label_changes(pairs, remove)
    return change(user=user, labels=labels, remove=keys, replace=replace)


def vm_label(opts: dict, *, user) -> ManagedVM:
    """``persona vm label VM [KEY=VALUE ...] [--remove KEY ...] [--replace]``."""
    vm = vm_selectors.vm_named(opts["vm"], platform=opts.get("platform") or "")
    return _change_labels(lambda **kw: label_services.vm_labels_set(vm=vm, **kw), vm, opts, user)


def platform_label(opts: dict, *, user) -> Platform:
    """``persona platform label NAME [KEY=VALUE ...] [--remove KEY ...] [--replace]``."""
    platform = platform_named(opts["name"])
    return _change_labels(
        lambda **kw: label_services.platform_labels_set(platform=platform, **kw),
        platform,
        opts,
        user,
    )


def labels_line(what: str, labels: dict | None) -> str:
    return f"{what}: {labels_text(labels) or 'no labels'}"


def print_images(out: Output) -> None:
    for image in image_selectors.base_image_list():
        where = ", ".join(loc.platform.name for loc in image.locations.all()) or "nowhere"
        out.write(f"{image.image_id:<16} {image.name:<30} {image.os:<16} on {where}")
