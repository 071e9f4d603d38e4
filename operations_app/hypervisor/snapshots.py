"""Snapshots: what each kind does, and how to make, list, revert and delete them.

``internal``  Stored inside the domain's qcow2 files. On a running domain it also saves
              the memory (QEMU ``savevm``: the guest pauses while RAM is written), so a
              revert brings back the running guest; on a stopped domain it is disk-only.
              Needs every writable disk to be qcow2 and no UEFI NVRAM. Revert and delete
              work on every libvirt version.
``external``  Disk-only (``--disk-only --atomic``): each writable disk gets a new qcow2
              overlay next to it and the current image becomes its read-only backing
              file; with ``quiesce`` the guest agent freezes filesystems first. Works on a
              running domain with raw or qcow2 disks and is near-instant. libvirt before
              9.9 cannot revert to or delete (except metadata) an external snapshot:
              ``Unsupported``.
``auto``      ``internal`` when allowed, otherwise ``external`` for a running domain.

Snapshot XML has no metadata element, so ``labels`` are stored as JSON in the
description (``{"persona": 1, "description": ..., "labels": {...}}``); the product
metadata of the domain at snapshot time is read from the domain definition the
snapshot keeps.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import libvirt

from . import validation as v
from ._facet import Facet
from ._xml import PERSONA_NS, parse, sub, to_int, to_string
from .domainxml import parse_domain_element, parse_metadata
from .errors import InvalidSpec, Unsupported
from .types import DomainSpec, SnapshotDisk, SnapshotInfo

MODES = ("auto", "internal", "external")


def _description_text(description: str | None, labels: dict[str, str] | None) -> str | None:
    if labels:
        for key, value in labels.items():
            v.check_text(key, what="snapshot label key", max_len=256)
            v.check_text(value, what=f"snapshot label {key!r}")
        return json.dumps(
            {"persona": 1, "description": description, "labels": labels}, ensure_ascii=True
        )
    if description is None:
        return None
    if "\r" in v.check_text(description, what="snapshot description"):
        raise InvalidSpec("snapshot description must not hold carriage returns")
    return description


def _read_description(text: str | None) -> tuple[str | None, dict[str, str]]:
    if not text:
        return None, {}
    try:
        data = json.loads(text)
    except ValueError:
        return text, {}
    if isinstance(data, dict) and data.get("persona") == 1:
        labels = data.get("labels") or {}
        return data.get("description"), {str(k): str(val) for k, val in labels.items()}
    return text, {}


def snapshot_xml(
    name: str,
    *,
    description: str | None = None,
    labels: dict[str, str] | None = None,
    external_disks: list[tuple[str, str | None]] | None = None,
    skip_disks: list[str] | None = None,
) -> str:
    """``<domainsnapshot>``; ``external_disks`` as (target, overlay path or None for
    libvirt's default name) makes a disk-only external snapshot."""
    root = ET.Element("domainsnapshot")
    sub(root, "name", v.check_name(name, what="snapshot name"))
    text = _description_text(description, labels)
    if text is not None:
        sub(root, "description", text)
    if external_disks is not None:
        sub(root, "memory", snapshot="no")
        disks = sub(root, "disks")
        for target, path in external_disks:
            disk = sub(disks, "disk", name=v.check_target_dev(target), snapshot="external")
            if path is not None:
                sub(disk, "source", file=v.check_path(path, what=f"overlay of {target}"))
        for target in skip_disks or []:
            sub(disks, "disk", name=v.check_target_dev(target), snapshot="no")
    return to_string(root)


def parse_snapshot_xml(xml: str, *, domain: str, current: bool = False) -> SnapshotInfo:
    root = parse(xml, what="snapshot XML")
    description, labels = _read_description(root.findtext("description"))
    disks = []
    for disk in root.findall("disks/disk"):
        source = disk.find("source")
        disks.append(
            SnapshotDisk(
                name=disk.get("name", ""),
                snapshot=disk.get("snapshot", ""),
                file=source.get("file") if source is not None else None,
            )
        )
    memory = root.find("memory")
    memory_kind = memory.get("snapshot") if memory is not None else None
    external = any(d.snapshot == "external" for d in disks) or memory_kind == "external"
    md_elem = root.find(f"domain/metadata/{{{PERSONA_NS}}}instance")
    return SnapshotInfo(
        name=root.findtext("name") or "",
        domain=domain,
        creation_time=to_int(root.findtext("creationTime")) or 0,
        state=root.findtext("state") or "",
        kind="external" if external else "internal",
        has_memory=memory_kind in ("internal", "external"),
        parent=root.findtext("parent/name"),
        current=current,
        description=description,
        labels=labels,
        domain_metadata=parse_metadata(md_elem) if md_elem is not None else None,
        disks=disks,
    )


def _domain_spec(dom: libvirt.virDomain) -> DomainSpec:
    return parse_domain_element(
        parse(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), what="domain XML")
    )


def _internal_allowed(spec: DomainSpec) -> str | None:
    """None when an internal snapshot is possible, else the reason it is not."""
    if spec.boot.firmware == "efi":
        return "UEFI NVRAM cannot hold an internal snapshot"
    for disk in spec.disks:
        if disk.device == "disk" and not disk.readonly and disk.format != "qcow2":
            return f"disk {disk.target} is {disk.format}, not qcow2"
    return None


class Snapshots(Facet):
    """``hv.snapshots``: domain snapshots, addressed by domain and snapshot name."""

    def create(
        self,
        domain: str,
        name: str,
        *,
        mode: str = "auto",
        description: str | None = None,
        labels: dict[str, str] | None = None,
        quiesce: bool = False,
    ) -> SnapshotInfo:
        """Take a snapshot (see the module docstring for ``mode``)."""
        v.check_choice(mode, what="snapshot mode", choices=MODES)
        snapshot_xml(name, description=description, labels=labels)  # validate early

        def run(conn: libvirt.virConnect) -> SnapshotInfo:
            dom = conn.lookupByName(domain)
            spec = _domain_spec(dom)
            reason = _internal_allowed(spec)
            kind = mode
            if mode == "auto":
                kind = "internal" if reason is None else "external"
            if kind == "internal" and reason is not None:
                raise Unsupported(f"Cannot take an internal snapshot of {domain!r}: {reason}")
            if kind == "external":
                if not dom.isActive() and mode == "auto":
                    raise Unsupported(
                        f"Cannot snapshot stopped domain {domain!r}: {reason}; "
                        "external snapshots here are for running domains"
                    )
                writable = [d.target for d in spec.disks if d.device == "disk" and not d.readonly]
                others = [d.target for d in spec.disks if d.target not in writable]
                xml = snapshot_xml(
                    name,
                    description=description,
                    labels=labels,
                    external_disks=[(t, None) for t in writable],
                    skip_disks=others,
                )
                flags = (
                    libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
                    | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
                )
                if quiesce:
                    flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE
            else:
                xml = snapshot_xml(name, description=description, labels=labels)
                flags = 0
            snap = dom.snapshotCreateXML(xml, flags)
            return parse_snapshot_xml(snap.getXMLDesc(0), domain=domain, current=True)

        return self._call(f"create snapshot {name!r} of domain {domain!r}", run)

    def list(self, domain: str) -> list[SnapshotInfo]:
        """All snapshots of ``domain``, oldest first."""

        def run(conn: libvirt.virConnect) -> list[SnapshotInfo]:
            dom = conn.lookupByName(domain)
            out = [
                parse_snapshot_xml(s.getXMLDesc(0), domain=domain, current=bool(s.isCurrent(0)))
                for s in dom.listAllSnapshots(0)
            ]
            return sorted(out, key=lambda s: (s.creation_time, s.name))

        return self._call(f"list snapshots of domain {domain!r}", run)

    def get(self, domain: str, name: str) -> SnapshotInfo:
        def run(conn: libvirt.virConnect) -> SnapshotInfo:
            snap = conn.lookupByName(domain).snapshotLookupByName(name, 0)
            return parse_snapshot_xml(
                snap.getXMLDesc(0), domain=domain, current=bool(snap.isCurrent(0))
            )

        return self._call(f"look up snapshot {name!r} of domain {domain!r}", run)

    def current(self, domain: str) -> SnapshotInfo | None:
        def run(conn: libvirt.virConnect) -> SnapshotInfo | None:
            dom = conn.lookupByName(domain)
            if not dom.hasCurrentSnapshot(0):
                return None
            snap = dom.snapshotCurrent(0)
            return parse_snapshot_xml(snap.getXMLDesc(0), domain=domain, current=True)

        return self._call(f"read the current snapshot of domain {domain!r}", run)

    def revert(
        self, domain: str, name: str, *, state: str | None = None, force: bool = False
    ) -> None:
        """Return the domain to the snapshot. ``state`` ``running``/``paused`` overrides the
        state saved in it; ``force`` allows risky reverts (e.g. from a running domain to a
        disk-only snapshot)."""
        flags = 0
        if state == "running":
            flags |= libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING
        elif state == "paused":
            flags |= libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED
        elif state is not None:
            raise InvalidSpec("revert state must be None, 'running' or 'paused'")
        if force:
            flags |= libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_FORCE

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(domain)
            dom.revertToSnapshot(dom.snapshotLookupByName(name, 0), flags)

        self._call(f"revert domain {domain!r} to snapshot {name!r}", run)

    def delete(
        self, domain: str, name: str, *, children: bool = False, metadata_only: bool = False
    ) -> None:
        """Delete a snapshot (and its ``children``); ``metadata_only`` forgets it in libvirt
        but leaves the data in the disk files."""
        flags = 0
        if children:
            flags |= libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN
        if metadata_only:
            flags |= libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY

        def run(conn: libvirt.virConnect) -> None:
            conn.lookupByName(domain).snapshotLookupByName(name, 0).delete(flags)

        self._call(f"delete snapshot {name!r} of domain {domain!r}", run)
