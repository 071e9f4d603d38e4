"""Domain operations: define, start, stop, inspect, hot-plug, sample and migrate."""

from __future__ import annotations

import builtins
import dataclasses
import logging
import math
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable

import libvirt

from ._facet import Facet
from ._xml import PERSONA_NS, PERSONA_PREFIX, attr, parse
from .domainxml import (
    IOTUNE_FIELDS,
    disk_xml,
    domain_xml,
    interface_xml,
    metadata_xml,
    parse_domain_xml,
    parse_metadata_xml,
)
from .errors import (
    AlreadyExists,
    HypervisorError,
    InvalidSpec,
    InvalidState,
    NotFound,
    OperationAborted,
    OperationTimeout,
)
from .types import (
    BlockStats,
    DiskIoTune,
    DiskSpec,
    DomainInfo,
    DomainMetadata,
    DomainSpec,
    DomainState,
    DomainStats,
    InterfaceSpec,
    MigrationProgress,
    MigrationResult,
    NetStats,
    Tunables,
    stat_int,
)
from .validation import check_int, check_mac, check_name, check_target_dev, check_uuid

logger = logging.getLogger(__name__)

_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: DomainState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: DomainState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: DomainState.BLOCKED,
    libvirt.VIR_DOMAIN_PAUSED: DomainState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: DomainState.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: DomainState.SHUTOFF,
    libvirt.VIR_DOMAIN_CRASHED: DomainState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: DomainState.PMSUSPENDED,
}
_UNSUPPORTED_FLAGS = (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT)
_UNSUPPORTED_FLAGS_RE = re.compile(r"unsupported flags \((0x[0-9a-fA-F]+)\)")
_STATS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_VCPU
    | libvirt.VIR_DOMAIN_STATS_BLOCK
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
)
_MEMORY_UNLIMITED = 9007199254740991  # VIR_DOMAIN_MEMORY_PARAM_UNLIMITED (KiB)
_SHUTDOWN_MODES = {
    "auto": 0,
    "agent": libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT,
    "acpi": libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN,
}


def domain_state(code: int) -> DomainState:
    return _STATES.get(code, DomainState.NOSTATE)


def read_metadata(dom: libvirt.virDomain, *, flags: int = 0) -> DomainMetadata | None:
    try:
        xml = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, PERSONA_NS, flags)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_METADATA:
            return None
        raise
    return parse_metadata_xml(xml)


def domain_info(dom: libvirt.virDomain) -> DomainInfo:
    state, _reason = dom.state()
    _st, max_kib, _mem, vcpus, _cpu = dom.info()
    try:
        autostart = bool(dom.autostart())
    except libvirt.libvirtError:
        autostart = False
    dom_id = dom.ID()
    return DomainInfo(
        name=dom.name(),
        uuid=dom.UUIDString(),
        state=domain_state(state),
        id=None if dom_id < 0 else dom_id,
        persistent=bool(dom.isPersistent()),
        autostart=autostart,
        vcpus=vcpus,
        memory_mib=max_kib // 1024,
        metadata=read_metadata(dom),
    )


def replace_uuid(spec: DomainSpec, uuid: str) -> DomainSpec:
    return dataclasses.replace(spec, uuid=uuid)


def affect_flags(dom: libvirt.virDomain, *, live: bool, config: bool) -> int:
    """LIVE when the domain runs and ``live``; CONFIG when it is persistent and ``config``."""
    flags = 0
    if live and dom.isActive():
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    if config and dom.isPersistent():
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if not flags:
        raise InvalidState(
            f"domain {dom.name()!r}: nothing to change (not running for a live change, "
            "or not persistent for a config change)"
        )
    return flags


class Domains(Facet):
    """``hv.domains``: everything about one domain, addressed by name."""

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

        def request(conn: libvirt.virConnect) -> bool:
            dom = conn.lookupByName(name)
            if not dom.isActive():
                return False
            dom.shutdownFlags(_SHUTDOWN_MODES[mode])
            return True

        try:
            if not self._call(f"shut down domain {name!r}", request):
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

    def attach_disk(
        self, name: str, disk: DiskSpec, *, live: bool = True, config: bool = True
    ) -> None:
        xml = disk_xml(disk)
        self._call(
            f"attach disk {disk.target} to domain {name!r}",
            lambda c: self._attach(c.lookupByName(name), xml, live, config),
        )

    def detach_disk(
        self, name: str, target: str, *, live: bool = True, config: bool = True
    ) -> None:
        check_target_dev(target)

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(name)
            xml = self._device_xml(
                dom,
                "disk",
                lambda e: attr(e, "target", "dev") == target,
            )
            if xml is None:
                raise NotFound(f"Domain {name!r} has no disk {target}")
            self._detach(dom, xml, live, config)

        self._call(f"detach disk {target} from domain {name!r}", run)

    def attach_interface(
        self, name: str, nic: InterfaceSpec, *, live: bool = True, config: bool = True
    ) -> None:
        xml = interface_xml(nic)
        self._call(
            f"attach an interface on {nic.network!r} to domain {name!r}",
            lambda c: self._attach(c.lookupByName(name), xml, live, config),
        )

    def detach_interface(
        self, name: str, mac: str, *, live: bool = True, config: bool = True
    ) -> None:
        mac = check_mac(mac)

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(name)
            xml = self._device_xml(
                dom,
                "interface",
                lambda e: (attr(e, "mac", "address") or "").lower() == mac,
            )
            if xml is None:
                raise NotFound(f"Domain {name!r} has no interface with MAC {mac}")
            self._detach(dom, xml, live, config)

        self._call(f"detach interface {mac} from domain {name!r}", run)

    @staticmethod
    def _attach(dom: libvirt.virDomain, xml: str, live: bool, config: bool) -> None:
        dom.attachDeviceFlags(xml, affect_flags(dom, live=live, config=config))

    @staticmethod
    def _detach(dom: libvirt.virDomain, xml: str, live: bool, config: bool) -> None:
        dom.detachDeviceFlags(xml, affect_flags(dom, live=live, config=config))

    @staticmethod
    def _device_xml(
        dom: libvirt.virDomain, kind: str, match: Callable[[ET.Element], bool]
    ) -> str | None:
        flags = 0 if dom.isActive() else libvirt.VIR_DOMAIN_XML_INACTIVE
        root = parse(dom.XMLDesc(flags), what="domain XML")
        for elem in root.findall(f"devices/{kind}"):
            if match(elem):
                elem.tail = None
                return ET.tostring(elem, encoding="unicode")
        return None

    def set_tunables(
        self,
        name: str,
        tunables: Tunables,
        *,
        disk_iotune: dict[str, DiskIoTune] | None = None,
        live: bool = True,
        config: bool = True,
    ) -> None:
        """Apply CPU shares/period/quota, memory limits and per-disk I/O limits to a
        defined domain, live (when running) and in its persistent config. Values left
        None are not changed."""
        sched: dict[str, int] = {}
        for field, key in (
            ("cpu_shares", "cpu_shares"),
            ("cpu_period", "vcpu_period"),
            ("cpu_quota", "vcpu_quota"),
        ):
            value = getattr(tunables, field)
            if value is not None:
                sched[key] = check_int(value, what=field.replace("_", " "), minimum=-1)
        memory: dict[str, int] = {}
        for field, key in (
            ("memory_hard_limit_mib", "hard_limit"),
            ("memory_soft_limit_mib", "soft_limit"),
        ):
            value = getattr(tunables, field)
            if value is not None:
                memory[key] = check_int(value, what=field.replace("_", " "), minimum=1) * 1024
        blkio: dict[str, int] = {}
        if tunables.blkio_weight is not None:
            blkio["weight"] = check_int(tunables.blkio_weight, what="blkio weight", minimum=1)
        iotunes: dict[str, dict[str, int]] = {}
        for target, tune in (disk_iotune or {}).items():
            check_target_dev(target)
            params = {
                k: check_int(getattr(tune, k), what=f"disk {target} {k}")
                for k in IOTUNE_FIELDS
                if getattr(tune, k) is not None
            }
            if params:
                iotunes[target] = params

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(name)
            flags = affect_flags(dom, live=live, config=config)
            # the bindings read the current values with the same flags to learn their
            # types, and reading refuses LIVE|CONFIG together: one pass per side
            for side in (libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG):
                if not flags & side:
                    continue
                if sched:
                    dom.setSchedulerParametersFlags(sched, side)
                if memory:
                    dom.setMemoryParameters(memory, side)
                if blkio:
                    dom.setBlkioParameters(blkio, side)
                for target, params in iotunes.items():
                    dom.setBlockIoTune(target, params, side)

        self._call(f"set resource limits of domain {name!r}", run)

    def tunables(self, name: str, *, inactive: bool = False) -> Tunables:
        """The CPU and memory limits libvirt enforces now (or, ``inactive``, the config's).
        Unlimited values read as None."""

        def run(conn: libvirt.virConnect) -> Tunables:
            dom = conn.lookupByName(name)
            live = dom.isActive() and not inactive
            flags = libvirt.VIR_DOMAIN_AFFECT_LIVE if live else libvirt.VIR_DOMAIN_AFFECT_CONFIG
            sched = dom.schedulerParametersFlags(flags)
            memory = dom.memoryParameters(flags)

            def mib(key: str) -> int | None:
                value = memory.get(key)
                if value is None or value >= _MEMORY_UNLIMITED:
                    return None
                return int(value) // 1024

            try:
                weight = dom.blkioParameters(flags).get("weight")
            except libvirt.libvirtError:
                weight = None
            return Tunables(
                cpu_shares=sched.get("cpu_shares") or None,
                cpu_period=sched.get("vcpu_period") or None,
                cpu_quota=sched.get("vcpu_quota") if sched.get("vcpu_quota", -1) > 0 else None,
                memory_hard_limit_mib=mib("hard_limit"),
                memory_soft_limit_mib=mib("soft_limit"),
                blkio_weight=weight or None,
            )

        return self._call(f"read resource limits of domain {name!r}", run)

    def disk_iotune(self, name: str, target: str, *, inactive: bool = False) -> DiskIoTune:
        """The I/O limits of one disk (0 from libvirt, meaning unlimited, reads as None)."""
        check_target_dev(target)

        def run(conn: libvirt.virConnect) -> DiskIoTune:
            dom = conn.lookupByName(name)
            live = dom.isActive() and not inactive
            flags = libvirt.VIR_DOMAIN_AFFECT_LIVE if live else libvirt.VIR_DOMAIN_AFFECT_CONFIG
            params = dom.blockIoTune(target, flags)
            return DiskIoTune(
                **{k: (int(params[k]) or None) if k in params else None for k in IOTUNE_FIELDS}
            )

        return self._call(f"read I/O limits of disk {target} of domain {name!r}", run)

    # ------------------------------------------------------------------ metrics

    def stats(self, names: Iterable[str] | None = None) -> builtins.list[DomainStats]:
        """One sample per domain (all active ones, or ``names``) from getAllDomainStats."""
        wanted = None if names is None else [check_name(n, what="domain name") for n in names]

        def run(conn: libvirt.virConnect) -> list[tuple[libvirt.virDomain, dict]]:
            if wanted is None:
                return conn.getAllDomainStats(
                    _STATS, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE
                )
            doms = [conn.lookupByName(n) for n in wanted]
            return conn.domainListGetStats(doms, _STATS, 0) if doms else []

        now = time.time()
        return [
            _parse_stats(dom.name(), dom.UUIDString(), raw, now)
            for dom, raw in self._call("read domain statistics", run)
        ]

    # ------------------------------------------------------------------ migration

    def settle_job(self, name: str, *, grace_s: float = 0, wait_s: float = 600) -> str | None:
        """Wait until the domain's background job (a migration left behind by a client
        that died) has ended, aborting it if it still runs after ``grace_s``.

        Returns None when no job was running, ``"ended"`` when it ended on its own within
        the grace period, ``"aborted"`` when it was aborted. Either way libvirt has
        released the domain when this returns: a migration holds the domain's
        state-change lock through its closing phases (telling the destination to clean
        up, then confirming) while it already reports itself cancelled or completed, so
        this waits until libvirt reports no job at all. Letting a migration finish is
        the gentler end: cancelling one that is mirroring disks can leave libvirt 9's
        migration thread waiting forever for the mirror's end. Raises
        ``OperationTimeout`` when the job is still there ``wait_s`` after the abort."""
        idle = libvirt.VIR_DOMAIN_JOB_NONE
        running = (libvirt.VIR_DOMAIN_JOB_BOUNDED, libvirt.VIR_DOMAIN_JOB_UNBOUNDED)

        def current(dom: libvirt.virDomain) -> int | None:
            """The job type libvirt reports; None while the domain is too busy to say."""
            try:
                return dom.jobInfo()[0]
            except libvirt.libvirtError as exc:
                if exc.get_error_code() in (
                    libvirt.VIR_ERR_NO_DOMAIN,  # it went away, and its job with it
                    libvirt.VIR_ERR_OPERATION_INVALID,  # not running: e.g. migrated away
                ):
                    return idle
                if exc.get_error_code() == libvirt.VIR_ERR_OPERATION_TIMEOUT:
                    return None
                raise

        def run(conn: libvirt.virConnect) -> str | None:
            dom = conn.lookupByName(name)
            kind = current(dom)
            if kind == idle:
                return None
            started = time.monotonic()
            aborted_at: float | None = None
            last_abort = -math.inf
            while kind != idle:
                now = time.monotonic()
                if aborted_at is not None and now - aborted_at >= wait_s:
                    raise OperationTimeout(
                        f"libvirt still runs a job on domain {name!r} {wait_s:.0f} s after "
                        "it was asked to abort it",
                        timeout=wait_s,
                        operation=f"abort the job of domain {name!r}",
                    )
                if kind in running and now - started >= grace_s and now - last_abort >= 5:
                    last_abort = now
                    aborted_at = aborted_at if aborted_at is not None else now
                    try:
                        dom.abortJob()
                    except libvirt.libvirtError as exc:
                        # It ended meanwhile, or is in a phase that cannot be cancelled:
                        # either way it finishes on its own.
                        if exc.get_error_code() not in (
                            libvirt.VIR_ERR_OPERATION_INVALID,
                            libvirt.VIR_ERR_OPERATION_FAILED,
                        ):
                            raise
                time.sleep(0.2)
                kind = current(dom)
            outcome = "ended" if aborted_at is None else "aborted"
            logger.info(
                "the job on domain %r %s; libvirt released the domain after %.1f s",
                name,
                outcome,
                time.monotonic() - started,
            )
            return outcome

        return self._call(f"wait for the job of domain {name!r} to end", run)

    def migrate(
        self,
        name: str,
        *,
        dest_uri: str,
        live: bool = True,
        p2p: bool = True,
        copy_storage_all: bool = False,
        persistent: bool = True,
        undefine_source: bool = True,
        dest_xml: str | None = None,
        bandwidth_mibps: int | None = None,
        migrate_uri: str | None = None,
        timeout: float | None = None,
        progress: Callable[[MigrationProgress], bool | None] | None = None,
    ) -> MigrationResult:
        """Migrate ``name`` to ``dest_uri`` and return the completed job's statistics.

        ``migrate_uri`` is the data channel (e.g. ``tcp://127.0.0.1``); ``dest_xml``
        replaces the definition on the destination (and its persistent config). With a
        ``timeout`` the job is aborted when it runs longer (``OperationTimeout``).
        ``progress`` is called about once a second with the running job's statistics;
        when it returns True the migration is aborted (``OperationAborted``).
        """
        flags = 0
        for on, flag in (
            (live, libvirt.VIR_MIGRATE_LIVE),
            (p2p, libvirt.VIR_MIGRATE_PEER2PEER),
            (copy_storage_all, libvirt.VIR_MIGRATE_NON_SHARED_DISK),
            (persistent, libvirt.VIR_MIGRATE_PERSIST_DEST),
            (undefine_source, libvirt.VIR_MIGRATE_UNDEFINE_SOURCE),
        ):
            if on:
                flags |= flag
        params: dict[str, object] = {}
        if dest_xml is not None:
            params[libvirt.VIR_MIGRATE_PARAM_DEST_XML] = dest_xml
            if persistent:
                params[libvirt.VIR_MIGRATE_PARAM_PERSIST_XML] = dest_xml
        if bandwidth_mibps is not None:
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = int(bandwidth_mibps)
        if migrate_uri is not None:
            params[libvirt.VIR_MIGRATE_PARAM_URI] = migrate_uri
        operation = f"migrate domain {name!r}"
        started = time.monotonic()

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(name)
            if p2p:
                self._run_with_deadline(
                    dom, lambda: dom.migrateToURI3(dest_uri, params, flags), timeout, progress
                )
                return
            dconn = _open_raw(dest_uri, self._timeout)
            try:
                self._run_with_deadline(
                    dom, lambda: dom.migrate3(dconn, params, flags), timeout, progress
                )
            finally:
                dconn.close()

        self._call(operation, run)
        elapsed = int((time.monotonic() - started) * 1000)
        return MigrationResult(
            domain=name, dest_uri=dest_uri, elapsed_ms=elapsed, **self._job_stats(name, dest_uri)
        )

    @staticmethod
    def _run_with_deadline(
        dom: libvirt.virDomain,
        fn,
        timeout: float | None,
        progress: Callable[[MigrationProgress], bool | None] | None = None,
    ) -> None:
        if timeout is None and progress is None:
            fn()
            return
        outcome: dict[str, BaseException] = {}

        def target() -> None:
            try:
                fn()
            except BaseException as exc:  # handed back to the caller's thread
                outcome["error"] = exc

        worker = threading.Thread(target=target, name="libvirt-migrate", daemon=True)
        worker.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        stop: str | None = None
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            worker.join(1.0 if left is None else max(0.0, min(1.0, left)))
            if not worker.is_alive():
                break
            if deadline is not None and time.monotonic() >= deadline:
                stop = "timeout"
                break
            if progress is not None:
                try:
                    raw = dom.jobStats(0)
                except libvirt.libvirtError:
                    raw = {}
                if progress(MigrationProgress.from_stats(raw)):
                    stop = "aborted"
                    break
        if stop is not None:
            try:
                dom.abortJob()
            except libvirt.libvirtError:
                pass
            worker.join()
            if stop == "timeout":
                raise OperationTimeout(
                    f"Migration of {dom.name()!r} did not finish within {timeout:g}s and was aborted",
                    timeout=timeout,
                )
            raise OperationAborted(f"Migration of {dom.name()!r} was aborted on request")
        if "error" in outcome:
            raise outcome["error"]

    def _job_stats(self, name: str, dest_uri: str) -> dict:
        """Completed-job statistics, read on the destination (the source may be gone)."""
        raw: dict = {}
        try:
            dconn = _open_raw(dest_uri, self._timeout)
            try:
                raw = dconn.lookupByName(name).jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
            finally:
                dconn.close()
        except (libvirt.libvirtError, HypervisorError):
            try:
                raw = self._call(
                    f"read migration statistics of {name!r}",
                    lambda c: c.lookupByName(name).jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED),
                )
            except HypervisorError:
                raw = {}

        def get(key: str) -> int | None:
            return stat_int(raw, key)

        return {
            "downtime_ms": get("downtime"),
            "total_ms": get("time_elapsed"),
            "data_total_bytes": get("data_total"),
            "data_processed_bytes": get("data_processed"),
            "memory_processed_bytes": get("memory_processed"),
            "disk_processed_bytes": get("disk_processed"),
            "raw": {k: v for k, v in raw.items() if isinstance(v, int | float | str)},
        }


def _parse_stats(name: str, uuid: str, raw: dict, now: float) -> DomainStats:
    def get(key: str) -> int | None:
        return stat_int(raw, key)

    stats = DomainStats(
        name=name,
        uuid=uuid,
        state=domain_state(get("state.state") or 0),
        timestamp=now,
        cpu_time_ns=get("cpu.time"),
        vcpus=get("vcpu.current"),
        balloon_current_kib=get("balloon.current"),
        balloon_maximum_kib=get("balloon.maximum"),
        balloon_rss_kib=get("balloon.rss"),
        balloon_unused_kib=get("balloon.unused"),
        balloon_available_kib=get("balloon.available"),
    )
    for i in range(get("block.count") or 0):
        p = f"block.{i}."
        stats.block.append(
            BlockStats(
                name=str(raw.get(p + "name", "")),
                path=raw.get(p + "path"),
                rd_bytes=get(p + "rd.bytes") or 0,
                wr_bytes=get(p + "wr.bytes") or 0,
                rd_reqs=get(p + "rd.reqs") or 0,
                wr_reqs=get(p + "wr.reqs") or 0,
                capacity_bytes=get(p + "capacity"),
                allocation_bytes=get(p + "allocation"),
            )
        )
    for i in range(get("net.count") or 0):
        p = f"net.{i}."
        stats.net.append(
            NetStats(
                name=str(raw.get(p + "name", "")),
                rx_bytes=get(p + "rx.bytes") or 0,
                tx_bytes=get(p + "tx.bytes") or 0,
                rx_pkts=get(p + "rx.pkts") or 0,
                tx_pkts=get(p + "tx.pkts") or 0,
                rx_drop=get(p + "rx.drop") or 0,
                tx_drop=get(p + "tx.drop") or 0,
            )
        )
    return stats


def _open_raw(uri: str, timeout: float) -> libvirt.virConnect:
    from .connection import open_connection

    return open_connection(uri, timeout=timeout, readonly=False)
