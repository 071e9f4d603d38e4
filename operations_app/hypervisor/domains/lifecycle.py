"""Lookups and life cycle of a domain: find, read, define, start, stop, undefine, and its
product metadata.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Iterable

import libvirt

from .._facet import Facet
from .._xml import PERSONA_NS, PERSONA_PREFIX
from ..domainxml import domain_xml, metadata_xml, parse_domain_xml
from ..errors import (
    AlreadyExists,
    HypervisorError,
    InvalidSpec,
    InvalidState,
    NotFound,
    OperationTimeout,
)
from ..types import DomainInfo, DomainMetadata, DomainSpec, DomainState
from ..validation import check_uuid
from ._common import affect_flags, domain_info, domain_state, read_metadata

logger = logging.getLogger(__name__)

_UNSUPPORTED_FLAGS = (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT)
_UNSUPPORTED_FLAGS_RE = re.compile(r"unsupported flags \((0x[0-9a-fA-F]+)\)")
_SHUTDOWN_MODES = {
    "auto": 0,
    "agent": libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT,
    "acpi": libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN,
}
_REBOOT_MODES = {
    "auto": 0,
    "agent": libvirt.VIR_DOMAIN_REBOOT_GUEST_AGENT,
    "acpi": libvirt.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN,
}


def replace_uuid(spec: DomainSpec, uuid: str) -> DomainSpec:
    return dataclasses.replace(spec, uuid=uuid)


class DomainLifecycle(Facet):
    """Lookups, definition, power state and product metadata of a domain."""

    # ------------------------------------------------------------------ lookups

    def lookup(self, name: str) -> DomainInfo:
        """State, size and product metadata of ``name``. Raises ``NotFound``."""
        return self._call(f"look up domain {name!r}", lambda c: domain_info(c.lookupByName(name)))

    def lookup_uuid(self, uuid: str) -> DomainInfo:
        uuid = check_uuid(uuid, what="domain uuid")
        return self._call(
            f"look up domain {uuid}", lambda c: domain_info(c.lookupByUUIDString(uuid))
        )

    def exists(self, name: str) -> bool:
        try:
            self._call(f"look up domain {name!r}", lambda c: c.lookupByName(name))
        except NotFound:
            return False
        return True

    def state(self, name: str) -> DomainState:
        return self._call(
            f"read the state of domain {name!r}",
            lambda c: domain_state(c.lookupByName(name).state()[0]),
        )

    def list(self, *, managed_only: bool = False) -> list[DomainInfo]:
        """All domains (active and inactive), with metadata; ``managed_only`` keeps only
        those carrying the product's metadata element."""

        def run(conn: libvirt.virConnect) -> list[DomainInfo]:
            out = []
            for dom in conn.listAllDomains(0):
                try:
                    info = domain_info(dom)
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                        continue  # vanished while listing
                    raise
                if info.managed or not managed_only:
                    out.append(info)
            return sorted(out, key=lambda i: i.name)

        return self._call("list domains", run)

    def xml(self, name: str, *, inactive: bool = False, migratable: bool = False) -> str:
        """The domain's XML (live unless ``inactive``; never with secure values).
        ``migratable`` gives the form a migration's ``dest_xml`` must start from."""
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0
        if migratable:
            flags |= libvirt.VIR_DOMAIN_XML_MIGRATABLE
        return self._call(
            f"read the XML of domain {name!r}", lambda c: c.lookupByName(name).XMLDesc(flags)
        )

    def spec(self, name: str, *, inactive: bool = False) -> DomainSpec:
        return parse_domain_xml(self.xml(name, inactive=inactive))

    def get_metadata(self, name: str) -> DomainMetadata | None:
        return self._call(
            f"read the metadata of domain {name!r}", lambda c: read_metadata(c.lookupByName(name))
        )

    # ------------------------------------------------------------------ life cycle

    def define(self, spec: DomainSpec, *, replace: bool = False) -> DomainInfo:
        """Define (persist) ``spec``. Raises ``AlreadyExists`` when a domain of that name
        exists, unless ``replace`` (then its definition is updated in place)."""
        xml = domain_xml(spec)

        def run(conn: libvirt.virConnect) -> DomainInfo:
            document = xml
            try:
                existing = conn.lookupByName(spec.name)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
            else:
                if not replace:
                    raise AlreadyExists(f"A domain named {spec.name!r} already exists")
                if spec.uuid is None:  # keep the identity of the domain being replaced
                    document = domain_xml(replace_uuid(spec, existing.UUIDString()))
            try:
                dom = conn.defineXMLFlags(document, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() not in _UNSUPPORTED_FLAGS or "flags" not in str(exc):
                    raise
                dom = conn.defineXML(document)
            return domain_info(dom)

        return self._call(f"define domain {spec.name!r}", run)

    def start(self, name: str, *, paused: bool = False) -> DomainInfo:
        """Start a defined domain. Raises ``InvalidState`` when it already runs."""
        flags = libvirt.VIR_DOMAIN_START_PAUSED if paused else 0

        def run(conn: libvirt.virConnect) -> DomainInfo:
            dom = conn.lookupByName(name)
            dom.createWithFlags(flags)
            return domain_info(dom)

        return self._call(f"start domain {name!r}", run)

    def wait_for_state(
        self,
        name: str,
        states: Iterable[DomainState],
        *,
        timeout: float | None = None,
        interval: float = 0.25,
    ) -> DomainState:
        """Poll until the domain is in one of ``states``. Raises ``OperationTimeout``."""
        wanted = set(states)
        limit = self._timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            current = self.state(name)
            if current in wanted:
                return current
            if time.monotonic() >= deadline:
                raise OperationTimeout(
                    f"Domain {name!r} did not reach {', '.join(sorted(wanted))} within "
                    f"{limit:g}s (it is {current})",
                    timeout=limit,
                )
            time.sleep(interval)

    def shutdown(
        self,
        name: str,
        *,
        timeout: float | None = None,
        mode: str = "auto",
        force: bool = True,
    ) -> str:
        """Ask the guest to power off (``agent``, ``acpi``, or ``auto``: agent when there is
        one, else ACPI), wait up to ``timeout``, then destroy it when ``force``.

        Returns ``"already-off"``, ``"shutdown"`` or ``"destroyed"``. Raises
        ``OperationTimeout`` when the guest ignored the request and ``force`` is False.
        """
        if mode not in _SHUTDOWN_MODES:
            raise InvalidSpec(f"shutdown mode must be one of {', '.join(_SHUTDOWN_MODES)}")
        limit = self._timeout if timeout is None else timeout

        try:
            if not self.request_shutdown(name, mode=mode):
                return "already-off"
        except HypervisorError as exc:
            if isinstance(exc, NotFound) or not force:
                raise
            logger.info("domain %s could not be asked to shut down (%s); destroying it", name, exc)
            self.destroy(name)
            return "destroyed"
        try:
            self.wait_for_state(name, [DomainState.SHUTOFF], timeout=limit)
            return "shutdown"
        except OperationTimeout:
            if not force:
                raise
        logger.info("domain %s ignored the shutdown request for %ss; destroying it", name, limit)
        self.destroy(name)
        return "destroyed"

    def request_shutdown(self, name: str, *, mode: str = "auto") -> bool:
        """Ask the guest to power off (``acpi``: press its ACPI power button; ``agent``:
        through its guest agent; ``auto``: the driver's choice) and return at once; the
        guest may take its time or ignore it (``wait_for_state`` waits for it).

        Returns False when the domain was not running. Raises ``Unsupported`` when the
        driver cannot use that ``mode`` (libvirt's test driver has no ACPI button)."""
        if mode not in _SHUTDOWN_MODES:
            raise InvalidSpec(f"shutdown mode must be one of {', '.join(_SHUTDOWN_MODES)}")

        def request(conn: libvirt.virConnect) -> bool:
            dom = conn.lookupByName(name)
            if not dom.isActive():
                return False
            dom.shutdownFlags(_SHUTDOWN_MODES[mode])
            return True

        return self._call(f"shut down domain {name!r}", request)

    def reboot(self, name: str, *, mode: str = "auto") -> None:
        """Ask the guest to restart (modes as ``request_shutdown``; with ``acpi`` QEMU
        presses the power button and starts the guest again once it powered off) and
        return at once. Raises ``InvalidState`` when the domain is not running and
        ``Unsupported`` when the driver cannot use that ``mode``."""
        if mode not in _REBOOT_MODES:
            raise InvalidSpec(f"reboot mode must be one of {', '.join(_REBOOT_MODES)}")

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(name)
            if not dom.isActive():
                raise InvalidState(f"Cannot reboot domain {name!r}: it is not running")
            dom.reboot(_REBOOT_MODES[mode])

        self._call(f"reboot domain {name!r}", run)

    def destroy(self, name: str, *, graceful: bool = False) -> None:
        """Power the domain off at once (no-op when it is not running)."""
        flags = libvirt.VIR_DOMAIN_DESTROY_GRACEFUL if graceful else 0

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(name)
            if not dom.isActive():
                return
            try:
                dom.destroyFlags(flags)
            except libvirt.libvirtError as exc:
                # it stopped between the check and the call
                if exc.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID or dom.isActive():
                    raise

        self._call(f"destroy domain {name!r}", run)

    def undefine(
        self,
        name: str,
        *,
        nvram: bool = True,
        snapshots_metadata: bool = True,
        checkpoints_metadata: bool = True,
    ) -> None:
        """Remove the definition (a running domain becomes transient). With the flags set,
        also its NVRAM file and snapshot/checkpoint metadata (snapshot data in qcow2 files
        stays in the files). Flags the driver reports as unsupported are dropped."""
        wanted = [
            (nvram, libvirt.VIR_DOMAIN_UNDEFINE_NVRAM),
            (snapshots_metadata, libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA),
            (checkpoints_metadata, libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA),
        ]
        flags = 0
        for on, flag in wanted:
            if on:
                flags |= flag

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(name)
            current = flags
            while True:
                try:
                    dom.undefineFlags(current)
                    return
                except libvirt.libvirtError as exc:
                    # "unsupported flags (0x4) in function ...": drop those bits, retry
                    match = _UNSUPPORTED_FLAGS_RE.search(str(exc))
                    if exc.get_error_code() not in _UNSUPPORTED_FLAGS or not match:
                        raise
                    bits = int(match.group(1), 16)
                    if not bits & current:
                        raise
                    current &= ~bits

        self._call(f"undefine domain {name!r}", run)

    def delete(self, name: str, *, missing_ok: bool = True) -> bool:
        """Destroy (if running) and undefine. Returns False when there was nothing."""
        try:
            info = self.lookup(name)
        except NotFound:
            if not missing_ok:
                raise
            return False
        try:
            self.destroy(name)
            if info.persistent:
                self.undefine(name)
        except NotFound:
            pass  # a transient domain is gone once destroyed
        return True

    # ------------------------------------------------------------------ changes

    def set_metadata(
        self,
        name: str,
        metadata: DomainMetadata | None,
        *,
        live: bool = True,
        config: bool = True,
    ) -> None:
        """Replace (or with None remove) the product's metadata element."""
        xml = None if metadata is None else metadata_xml(metadata)

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(name)
            flags = affect_flags(dom, live=live, config=config)
            dom.setMetadata(
                libvirt.VIR_DOMAIN_METADATA_ELEMENT, xml, PERSONA_PREFIX, PERSONA_NS, flags
            )

        self._call(f"set the metadata of domain {name!r}", run)
