"""Storage XML: dir pools, volumes (plain, linked clones, LUKS-encrypted) and secrets.

A *linked clone* is a qcow2 volume whose ``<backingStore>`` is the base image: creating
it writes only a small header, whatever the size of the base. An *encrypted* volume is a
qcow2 (or raw) volume with ``<encryption format='luks'>`` whose passphrase is a libvirt
secret with usage type ``volume`` and the volume's path as usage id.

Secret values never appear in any XML here: they go to ``virSecretSetValue`` only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from . import validation as v
from ._xml import parse, size_of, sub, to_string
from .errors import InvalidSpec
from .types import PoolInfo, VolumeInfo

VOLUME_FORMATS = ("qcow2", "raw")
SECRET_USAGE_TYPES = ("volume",)


def dir_pool_xml(name: str, path: str) -> str:
    root = ET.Element("pool", type="dir")
    sub(root, "name", v.check_name(name, what="pool name"))
    target = sub(root, "target")
    sub(target, "path", v.check_path(path, what="pool path"))
    return to_string(root)


def volume_xml(
    name: str,
    *,
    capacity_bytes: int | None,
    format: str = "qcow2",
    backing_path: str | None = None,
    backing_format: str | None = None,
    encryption_secret_uuid: str | None = None,
) -> str:
    """``<volume>`` XML; ``capacity_bytes`` may be None only for a linked clone."""
    v.check_choice(format, what="volume format", choices=VOLUME_FORMATS)
    root = ET.Element("volume")
    sub(root, "name", v.check_name(name, what="volume name", max_len=255))
    if capacity_bytes is None:
        if backing_path is None:
            raise InvalidSpec("a volume needs a capacity (only linked clones inherit one)")
    else:
        sub(
            root,
            "capacity",
            v.check_int(capacity_bytes, what="volume capacity", minimum=1),
            unit="bytes",
        )
    target = sub(root, "target")
    sub(target, "format", type=format)
    if encryption_secret_uuid is not None:
        enc = sub(target, "encryption", format="luks")
        sub(
            enc,
            "secret",
            type="passphrase",
            uuid=v.check_uuid(encryption_secret_uuid, what="secret uuid"),
        )
    if backing_path is not None:
        if format != "qcow2":
            raise InvalidSpec("a linked clone must be qcow2")
        backing = sub(root, "backingStore")
        sub(backing, "path", v.check_path(backing_path, what="base image path"))
        sub(
            backing,
            "format",
            type=v.check_choice(
                backing_format or "qcow2", what="base format", choices=VOLUME_FORMATS
            ),
        )
    return to_string(root)


def secret_xml(
    *,
    usage_id: str,
    usage_type: str = "volume",
    description: str | None = None,
    uuid: str | None = None,
) -> str:
    """An ephemeral, private secret: libvirt keeps it in memory only (nothing under
    ``/etc/libvirt/secrets``, so a copy of the host's disk holds no key) and never hands
    its value back to clients. It is gone when the daemon restarts; whoever starts a
    domain that uses it supplies it again (``hv.storage.secret_ensure``)."""
    v.check_choice(usage_type, what="secret usage type", choices=SECRET_USAGE_TYPES)
    root = ET.Element("secret", ephemeral="yes", private="yes")
    if uuid is not None:
        sub(root, "uuid", v.check_uuid(uuid, what="secret uuid"))
    if description is not None:
        sub(
            root,
            "description",
            v.check_text(description, what="secret description", single_line=True, max_len=1024),
        )
    usage = sub(root, "usage", type=usage_type)
    sub(usage, "volume", v.check_path(usage_id, what="secret usage (volume path)"))
    return to_string(root)


def parse_secret_xml(xml: str) -> dict[str, str | None]:
    root = parse(xml, what="secret XML")
    usage = root.find("usage")
    return {
        "uuid": root.findtext("uuid"),
        "ephemeral": root.get("ephemeral"),
        "private": root.get("private"),
        "description": root.findtext("description"),
        "usage_type": usage.get("type") if usage is not None else None,
        "usage_id": usage.findtext(usage.get("type", "volume")) if usage is not None else None,
    }


def parse_volume_xml(xml: str, *, pool: str | None = None) -> VolumeInfo:
    root = parse(xml, what="volume XML")
    fmt = root.find("target/format")
    enc = root.find("target/encryption")
    secret = enc.find("secret") if enc is not None else None
    backing = root.find("backingStore")
    backing_fmt = backing.find("format") if backing is not None else None
    path = root.findtext("target/path") or root.findtext("key") or ""
    return VolumeInfo(
        name=root.findtext("name") or "",
        pool=pool,
        path=path,
        key=root.findtext("key"),
        format=fmt.get("type") if fmt is not None else None,
        capacity_bytes=size_of(root.find("capacity")) or 0,
        allocation_bytes=size_of(root.find("allocation")) or 0,
        encrypted=enc is not None,
        encryption_format=enc.get("format") if enc is not None else None,
        secret_uuid=secret.get("uuid") if secret is not None else None,
        backing_path=backing.findtext("path") if backing is not None else None,
        backing_format=backing_fmt.get("type") if backing_fmt is not None else None,
    )


def parse_pool_xml(xml: str, *, active: bool, autostart: bool, persistent: bool) -> PoolInfo:
    root = parse(xml, what="pool XML")
    return PoolInfo(
        name=root.findtext("name") or "",
        type=root.get("type", ""),
        path=root.findtext("target/path"),
        active=active,
        autostart=autostart,
        persistent=persistent,
        uuid=root.findtext("uuid"),
        capacity_bytes=size_of(root.find("capacity")) or 0,
        allocation_bytes=size_of(root.find("allocation")) or 0,
        available_bytes=size_of(root.find("available")) or 0,
    )
