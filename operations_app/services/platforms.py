"""Platforms and base images: every write goes through here."""

from __future__ import annotations

import json
import logging
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from operations_app import hypervisor as hv
from operations_app.constraints import constraint_errors
from operations_app.models import BaseImage, BaseImageLocation, KvmPolicy, Platform, PlatformStatus
from vmpersona.errors import DomainError, field_error
from vmpersona.history import attribute_change
from vmpersona.roles import OPERATORS, require_role

logger = logging.getLogger(__name__)

# The libvirt transports this product drives. ``test:///default`` (libvirt's in-memory
# mock) only where settings.VMPERSONA_ALLOW_TEST_DRIVER says so: tests and DEBUG. Other
# ``test:///<path>`` URIs load an XML file from this server's disk, so they are never
# accepted.
URI_SCHEMES = {
    "qemu",
    "qemu+ssh",
    "qemu+tls",
    "qemu+tcp",
    "qemu+unix",
    "qemu+libssh2",
    "qemu+libssh",
}
URI_LOCAL_SCHEMES = {"qemu", "qemu+unix"}  # no host part
URI_PATHS = {"/system", "/session"}
TEST_DRIVER_URI = "test:///default"
# Query parameters that pick a socket or a transport mode. Others are refused: libvirt's
# ``command``/``netcat`` run a program and ``keyfile``/``pkipath``/``known_hosts`` read
# files of this server's choosing.
URI_QUERY_PARAMETERS = {"socket", "no_verify", "no_tty", "mode", "proxy", "sshauth"}

EDITABLE_FIELDS = (
    "uri",
    "migration_uri",
    "description",
    "site",
    "region",
    "enabled",
    "currency",
    "cost_vcpu_hour",
    "cost_ram_gib_hour",
    "cost_storage_gib_month",
    "storage_pool",
    "networks",
    "vlan_networks",
    "kvm",
    "constraints",
)


def _test_driver_allowed() -> bool:
    return bool(getattr(settings, "VMPERSONA_ALLOW_TEST_DRIVER", False))


def _check_uri(uri: str, *, field: str = "uri") -> None:
    allowed = sorted(f"{scheme}://" for scheme in URI_SCHEMES)
    if _test_driver_allowed():
        allowed.append(TEST_DRIVER_URI)

    def refuse(why: str) -> ValidationError:
        return field_error(
            field,
            f"'{uri}' is not a libvirt URI this product drives ({why}); use "
            f"qemu:///system, qemu:///session or one of {', '.join(allowed)}",
        )

    if uri == TEST_DRIVER_URI and _test_driver_allowed():
        return
    if any(ch.isspace() or ord(ch) < 32 for ch in uri):
        raise refuse("it contains spaces or control characters")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise refuse(str(exc)) from None
    if parts.scheme == "test":
        raise refuse("the test driver is not enabled on this installation")
    if parts.scheme not in URI_SCHEMES:
        raise refuse(f"unsupported transport '{parts.scheme}'")
    if parts.scheme in URI_LOCAL_SCHEMES and parts.netloc:
        raise refuse(f"{parts.scheme}:// takes no host; use qemu+tls:// or qemu+ssh://")
    if parts.scheme not in URI_LOCAL_SCHEMES and not parts.hostname:
        raise refuse(f"{parts.scheme}:// needs a host")
    if parts.path not in URI_PATHS:
        raise refuse("the path must be /system or /session")
    if parts.fragment:
        raise refuse("no fragment")
    names = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if names - URI_QUERY_PARAMETERS:
        raise refuse(f"parameter(s) {', '.join(sorted(names - URI_QUERY_PARAMETERS))} not allowed")


def _clean_fields(values: dict[str, Any]) -> dict[str, Any]:
    errors: list[ValidationError] = []
    cleaned = dict(values)
    for key in ("uri", "migration_uri"):
        if cleaned.get(key):
            try:
                _check_uri(str(cleaned[key]), field=key)
            except ValidationError as exc:
                errors.append(exc)
    for key in ("cost_vcpu_hour", "cost_ram_gib_hour", "cost_storage_gib_month"):
        if key in cleaned:
            try:
                amount = Decimal(str(cleaned[key]))
                if amount < 0 or not amount.is_finite():
                    raise InvalidOperation
                cleaned[key] = amount
            except (InvalidOperation, ValueError):
                errors.append(field_error(key, "a cost rate must be a number of at least 0"))
    if "networks" in cleaned and (
        not isinstance(cleaned["networks"], list)
        or not all(isinstance(n, str) and n for n in cleaned["networks"])
    ):
        errors.append(field_error("networks", "a list of libvirt network names"))
    if "vlan_networks" in cleaned:
        mapping = cleaned["vlan_networks"]
        if not isinstance(mapping, dict):
            errors.append(
                field_error(
                    "vlan_networks", 'a mapping of VLAN id to network name, e.g. {"100": "vlan100"}'
                )
            )
        else:
            for vlan, network in mapping.items():
                if not str(vlan).isdigit() or not 1 <= int(vlan) <= 4094:
                    errors.append(
                        field_error(f"vlan_networks/{vlan}", "VLAN ids run from 1 to 4094")
                    )
                elif not isinstance(network, str) or not network:
                    errors.append(
                        field_error(f"vlan_networks/{vlan}", "the name of a libvirt network")
                    )
    if "constraints" in cleaned:
        for err in constraint_errors(cleaned["constraints"]):
            errors.append(field_error(f"constraints{err.path}", err.message))
    if "kvm" in cleaned and cleaned["kvm"] not in KvmPolicy.values:
        errors.append(field_error("kvm", f"one of {', '.join(KvmPolicy.values)}"))
    if errors:
        raise ValidationError(errors)
    return cleaned


RESERVED_NAMES = frozenset({"new"})


def _check_role(user) -> None:
    # ``user=None`` is the system itself (periodic tasks, the local CLI run by root).
    if user is not None:
        require_role(user, OPERATORS, "manage platforms")


@transaction.atomic
def platform_create(*, user=None, name: str, uri: str, **fields: Any) -> Platform:
    _check_role(user)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise field_error(sorted(unknown)[0], "not a platform setting")
    if not name or slugify(name) != name:
        raise field_error("name", "lowercase letters, digits and dashes")
    if name in RESERVED_NAMES:
        raise field_error("name", f"'{name}' is reserved; choose another name")
    if Platform.objects.filter(name=name).exists():
        raise field_error("name", f"a platform named '{name}' already exists", code="duplicate")
    cleaned = _clean_fields({"uri": uri, **fields})
    platform = Platform(name=name, **cleaned)
    attribute_change(platform, user=user, reason="platform added")
    platform.save()
    logger.info("platform %s added (%s)", name, hv.redact_uri(uri))
    return platform


@transaction.atomic
def platform_update(*, user=None, platform: Platform, **fields: Any) -> Platform:
    """Change the given settings; with none, only the role is checked."""
    _check_role(user)
    if not fields:
        return platform
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise field_error(sorted(unknown)[0], "not a platform setting")
    cleaned = _clean_fields(fields)
    platform = Platform.objects.select_for_update().get(pk=platform.pk)
    for key, value in cleaned.items():
        setattr(platform, key, value)
    attribute_change(platform, user=user, reason="settings changed: " + ", ".join(sorted(cleaned)))
    platform.save()
    return platform


def _kvm_declaration(platform: Platform) -> bool | None:
    return {KvmPolicy.AUTO: None, KvmPolicy.USE: True, KvmPolicy.AVOID: False}[
        KvmPolicy(platform.kvm)
    ]


def platform_connect(platform: Platform, *, timeout: float = 30.0) -> hv.Hypervisor:
    """An open hypervisor connection to the platform (the caller closes it)."""
    return hv.Hypervisor.connect(platform.uri, timeout=timeout)


def platform_refresh(*, platform: Platform, user=None, timeout: float = 30.0) -> Platform:
    """Read the platform's capabilities from libvirt and record them (or why not).

    ``user`` is the person asking (page, API, admin, CLI ``--as``), who needs the
    operators role; ``None`` is the system itself (workers, periodic tasks, root's CLI).
    """
    if user is not None:
        require_role(user, OPERATORS, "refresh platforms")
    try:
        with platform_connect(platform, timeout=timeout) as conn:
            caps = conn.capabilities(kvm_usable=_kvm_declaration(platform))
    except hv.HypervisorError as exc:
        Platform.objects.filter(pk=platform.pk).update(
            status=PlatformStatus.UNREACHABLE,
            last_error=str(exc)[:2000],
            capabilities_refreshed_at=timezone.now(),
        )
        platform.refresh_from_db()
        logger.warning("platform %s unreachable: %s", platform.name, exc)
        return platform
    Platform.objects.filter(pk=platform.pk).update(
        capabilities=caps.to_dict(),
        capabilities_refreshed_at=timezone.now(),
        status=PlatformStatus.OK,
        last_error="",
    )
    platform.refresh_from_db()
    return platform


def platform_capabilities(platform: Platform) -> hv.Capabilities | None:
    if not platform.capabilities:
        return None
    return hv.Capabilities.from_dict(platform.capabilities)


# --------------------------------------------------------------------------- images


def _clean_image_fields(image_id: str, name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The image's settings converted and checked as the model defines them."""
    candidate = BaseImage(image_id=image_id, name=name, **fields)
    try:
        candidate.full_clean(validate_unique=False)
    except ValidationError as exc:
        path, messages = sorted(exc.message_dict.items())[0]
        raise field_error(path, messages[0]) from None
    if candidate.virtual_size_bytes < 0:
        raise field_error("virtual_size_bytes", "must not be negative")
    return {key: getattr(candidate, key) for key in fields}


@transaction.atomic
def base_image_register(
    *,
    user=None,
    image_id: str,
    name: str,
    locations: dict[Platform, str],
    **fields: Any,
) -> BaseImage:
    """Register (or update) a base image and where its file lies on each platform."""
    _check_role(user)
    if not isinstance(image_id, str) or not image_id or slugify(image_id) != image_id:
        raise field_error("image_id", "lowercase letters, digits and dashes")
    allowed = {
        "os",
        "format",
        "checksum",
        "virtual_size_bytes",
        "min_vcpus",
        "min_memory_mib",
        "kernel",
        "initrd",
        "cmdline",
        "description",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise field_error(sorted(unknown)[0], "not a base image setting")
    fields = _clean_image_fields(image_id, name, fields)
    image, created = BaseImage.objects.select_for_update().get_or_create(
        image_id=image_id, defaults={"name": name}
    )
    image.name = name
    for key, value in fields.items():
        setattr(image, key, value)
    attribute_change(image, user=user, reason="image registered" if created else "image updated")
    image.save()
    for platform, path in locations.items():
        BaseImageLocation.objects.update_or_create(
            image=image, platform=platform, defaults={"path": path}
        )
    return image


def base_image_register_from_manifest(
    *, user=None, manifest_path: Path, platforms: list[Platform]
) -> BaseImage:
    """Register an image built by ``make guest-image`` from its ``image.json``."""
    try:
        meta = json.loads(Path(manifest_path).read_text())
    except (OSError, ValueError) as exc:
        raise DomainError(f"Cannot read the image manifest {manifest_path}: {exc}") from exc
    if not isinstance(meta, dict):
        raise field_error("/", "the manifest must be a JSON object")
    meta = cast(dict[str, Any], meta)
    folder = Path(manifest_path).parent

    def file_in_folder(key: str, default: str) -> Path:
        value = meta.get(key, default)
        if not isinstance(value, str) or not value:
            raise field_error(key, "must be a file name next to the manifest")
        return folder / value

    disk = file_in_folder("root_disk", "root.qcow2")
    kernel = file_in_folder("kernel", "vmlinuz")
    initrd = file_in_folder("initrd", "initrd.img")
    image_id = meta.get("id", "tiny-linux")
    size = meta.get("virtual_size_bytes")
    return base_image_register(
        user=user,
        image_id=image_id,
        name=meta.get("name", image_id),
        locations={p: str(disk) for p in platforms},
        os=meta.get("os", ""),
        format=meta.get("root_disk_format", "qcow2"),
        checksum=meta.get("checksum", ""),
        virtual_size_bytes=size if size is not None else meta.get("virtual_size", 0),
        min_vcpus=meta.get("min_vcpus", 1),
        min_memory_mib=meta.get("min_memory_mib", 128),
        kernel=str(kernel) if kernel.exists() else "",
        initrd=str(initrd) if initrd.exists() else "",
        cmdline=meta.get("cmdline", ""),
        description=meta.get("description", ""),
    )
