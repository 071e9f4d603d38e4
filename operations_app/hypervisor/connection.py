"""``Hypervisor``: one libvirt connection, with reconnect, keepalive and error mapping.

    with Hypervisor.connect("qemu:///system", timeout=30) as hv:
        caps = hv.capabilities()
        hv.domains.define(spec)
        hv.domains.start(spec.name)

Operations are grouped by topic: ``hv.domains``, ``hv.storage``, ``hv.networks``,
``hv.nwfilters``, ``hv.snapshots`` and ``hv.agent``. They take and return names and
dataclasses, never libvirt objects, so a transparent reconnect cannot leave a caller
holding a dead handle.

A connection that dropped (libvirt reports VIR_ERR_SYSTEM_ERROR / VIR_ERR_NO_CONNECT /
an RPC error, or ``isAlive()`` is false) is reopened once, and the failed call retried
once. A second failure raises ``ConnectionFailed``.

Keepalive needs an event loop in the process: the first connection with keepalive
registers libvirt's default event implementation and runs it in a daemon thread.
"""

from __future__ import annotations

import logging
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import libvirt

from .agent import GuestAgent
from .capabilities import (
    assemble_capabilities,
    parse_domain_capabilities,
    parse_host_capabilities,
    version_string,
)
from .domains import Domains
from .errors import (
    ConnectionFailed,
    HypervisorError,
    is_connection_error,
    libvirt_message,
    translate_libvirt_error,
)
from .networks import Networks
from .nwfilters import NWFilters
from .snapshots import Snapshots
from .storage import Storage
from .types import Capabilities, DomainTypeCapabilities

logger = logging.getLogger(__name__)
T = TypeVar("T")

_event_loop_lock = threading.Lock()
_event_loop_started = False


def ensure_event_loop() -> None:
    """Register libvirt's default event loop and run it in a daemon thread (once)."""
    global _event_loop_started
    with _event_loop_lock:
        if _event_loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                try:
                    libvirt.virEventRunDefaultImpl()
                except Exception:  # keep the loop alive whatever one callback did
                    logger.exception("libvirt event loop iteration failed")

        threading.Thread(target=run, name="libvirt-event-loop", daemon=True).start()
        _event_loop_started = True


def redact_uri(uri: str) -> str:
    """The URI without a password, for messages and logs."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable URI>"
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def open_connection(uri: str, *, timeout: float, readonly: bool) -> libvirt.virConnect:
    """Open a connection in a worker thread so an unreachable host cannot hang us."""
    result: dict[str, object] = {}

    def target() -> None:
        try:
            result["conn"] = libvirt.openReadOnly(uri) if readonly else libvirt.open(uri)
        except libvirt.libvirtError as exc:
            result["error"] = exc

    worker = threading.Thread(target=target, name="libvirt-open", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():

        def close_late() -> None:
            worker.join()
            late = result.get("conn")
            if isinstance(late, libvirt.virConnect):
                late.close()

        threading.Thread(target=close_late, name="libvirt-open-reaper", daemon=True).start()
        raise ConnectionFailed(
            f"Cannot connect to {redact_uri(uri)}: no answer within {timeout:g}s",
            operation="connect",
        )
    error = result.get("error")
    if isinstance(error, libvirt.libvirtError):
        raise ConnectionFailed(
            f"Cannot connect to {redact_uri(uri)}: {libvirt_message(error)}",
            code=error.get_error_code(),
            operation="connect",
        )
    conn = result.get("conn")
    if not isinstance(conn, libvirt.virConnect):
        raise ConnectionFailed(f"Cannot connect to {redact_uri(uri)}", operation="connect")
    return conn


class Hypervisor:
    """A libvirt connection speaking domain terms. Thread-safe; use as a context manager."""

    def __init__(
        self,
        uri: str,
        *,
        timeout: float = 30.0,
        keepalive_interval: int | None = 5,
        keepalive_count: int = 3,
        readonly: bool = False,
    ) -> None:
        """Prefer ``Hypervisor.connect``; this constructor does not open anything."""
        self.uri = uri
        self.timeout = float(timeout)
        self.keepalive_interval = keepalive_interval
        self.keepalive_count = keepalive_count
        self.readonly = readonly
        self.reconnects = 0
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.RLock()
        self._closed = False
        self.domains = Domains(self)
        self.storage = Storage(self)
        self.networks = Networks(self)
        self.nwfilters = NWFilters(self)
        self.snapshots = Snapshots(self)
        self.agent = GuestAgent(self)

    @classmethod
    def connect(
        cls,
        uri: str,
        *,
        timeout: float = 30.0,
        keepalive_interval: int | None = 5,
        keepalive_count: int = 3,
        readonly: bool = False,
    ) -> Hypervisor:
        """Open ``uri`` (any libvirt URI). ``timeout`` bounds the connect and is the default
        deadline for waits (state changes, agent). ``keepalive_interval=None`` disables
        keepalive. Raises ``ConnectionFailed``."""
        hv = cls(
            uri,
            timeout=timeout,
            keepalive_interval=keepalive_interval,
            keepalive_count=keepalive_count,
            readonly=readonly,
        )
        hv._open()
        return hv

    # ------------------------------------------------------------------ lifecycle

    def _open(self) -> None:
        if self.keepalive_interval:
            ensure_event_loop()
        conn = open_connection(self.uri, timeout=self.timeout, readonly=self.readonly)
        if self.keepalive_interval:
            try:
                conn.setKeepAlive(self.keepalive_interval, self.keepalive_count)
            except libvirt.libvirtError as exc:  # drivers without keepalive (test://)
                logger.debug("keepalive not available on %s: %s", redact_uri(self.uri), exc)
        with self._lock:
            self._conn = conn
            self._closed = False

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            self._closed = True
        if conn is not None:
            try:
                conn.close()
            except libvirt.libvirtError:
                pass

    def __enter__(self) -> Hypervisor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Hypervisor {redact_uri(self.uri)}{' closed' if self._closed else ''}>"

    @staticmethod
    def _alive(conn: libvirt.virConnect) -> bool:
        try:
            return bool(conn.isAlive())
        except libvirt.libvirtError:
            return False

    def is_alive(self) -> bool:
        conn = self._conn
        return conn is not None and self._alive(conn)

    def reconnect(self) -> None:
        """Close and reopen the connection. Raises ``ConnectionFailed``."""
        with self._lock:
            stale = self._conn
        self._reconnect(stale)

    def _reconnect(self, stale: libvirt.virConnect | None) -> libvirt.virConnect:
        with self._lock:
            if self._closed:
                raise ConnectionFailed(f"The connection to {redact_uri(self.uri)} was closed")
            if self._conn is not None and self._conn is not stale:
                return self._conn  # another thread already reconnected
            logger.warning("reconnecting to %s", redact_uri(self.uri))
            if stale is not None:
                try:
                    stale.close()
                except libvirt.libvirtError:
                    pass
            self._conn = None
            self._open()
            self.reconnects += 1
            assert self._conn is not None
            return self._conn

    def _connection(self) -> libvirt.virConnect:
        with self._lock:
            if self._closed:
                raise ConnectionFailed(f"The connection to {redact_uri(self.uri)} was closed")
            conn = self._conn
        if conn is None or not self._alive(conn):
            conn = self._reconnect(conn)
        return conn

    def _call(self, operation: str, fn: Callable[[libvirt.virConnect], T]) -> T:
        """Run ``fn(conn)``; reconnect and retry once if the connection dropped; map errors.

        ``operation`` reads like "start domain 'web1'" and appears in error messages.
        """
        conn = self._connection()
        try:
            return fn(conn)
        except libvirt.libvirtError as exc:
            if not (is_connection_error(exc) and not self._alive(conn)):
                raise translate_libvirt_error(exc, operation) from None
            logger.warning("connection to %s dropped during %s", redact_uri(self.uri), operation)
        conn = self._reconnect(conn)
        try:
            return fn(conn)
        except libvirt.libvirtError as exc:
            raise translate_libvirt_error(exc, operation) from None

    # ------------------------------------------------------------------ host

    def hostname(self) -> str:
        return self._call("read the host name", lambda c: c.getHostname())

    def hypervisor_version(self) -> str | None:
        """The version of the hypervisor installed (``conn.getVersion()``, as ``7.2.1``):
        the binary a domain started now would run; None when the driver does not say."""

        def run(conn: libvirt.virConnect) -> str | None:
            try:
                number = conn.getVersion()
            except libvirt.libvirtError as exc:
                if is_connection_error(exc):
                    raise
                return None
            return version_string(number) if number else None

        return self._call("read the hypervisor version", run)

    def domain_capabilities(
        self, domain_type: str, *, arch: str | None = None, machine: str | None = None
    ) -> DomainTypeCapabilities:
        """``getDomainCapabilities`` for one domain type, arch (default: the host's) and
        machine type (default: the emulator's)."""

        def run(conn: libvirt.virConnect) -> DomainTypeCapabilities:
            guest_arch = arch or parse_host_capabilities(conn.getCapabilities()).cpu.arch
            xml = conn.getDomainCapabilities(None, guest_arch, machine, domain_type, 0)
            return parse_domain_capabilities(xml)

        return self._call(f"read {domain_type} domain capabilities", run)

    def cpu_compare(self, domain_xml: str, *, domain_type: str | None = None) -> bool | None:
        """Can this host run the ``<cpu>`` of ``domain_xml`` (libvirt's
        ``compareHypervisorCPU`` against what the hypervisor can provide)? None when the
        domain names no CPU model to compare (``host-passthrough`` or no ``<cpu>``)."""
        root = ET.fromstring(domain_xml)
        cpu = root.find("cpu")
        if cpu is None or cpu.get("mode") in ("host-passthrough", "maximum"):
            return None
        if cpu.get("mode") not in (None, "custom", "host-model") or cpu.find("model") is None:
            return None
        if cpu.get("mode") == "host-model":
            return None  # libvirt expands it to what each host offers
        dtype = domain_type or root.get("type") or "qemu"
        os_type = root.find("os/type")
        arch = os_type.get("arch") if os_type is not None else None
        cpu_xml = ET.tostring(cpu, encoding="unicode")

        def run(conn: libvirt.virConnect) -> bool:
            verdict = conn.compareHypervisorCPU(None, arch, None, dtype, cpu_xml, 0)
            return verdict in (libvirt.VIR_CPU_COMPARE_IDENTICAL, libvirt.VIR_CPU_COMPARE_SUPERSET)

        return self._call("compare a CPU definition with the host", run)

    def capabilities(
        self,
        *,
        kvm_usable: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Capabilities:
        """Everything the product needs to know about this host (see ``Capabilities``).

        ``kvm_usable`` is the platform's declaration; None lets ``judge_kvm`` decide
        (environment variable, then a cheap local check).
        """

        def gather(conn: libvirt.virConnect) -> dict:
            host = parse_host_capabilities(conn.getCapabilities())
            guest = host.guest()
            domcaps: dict[str, DomainTypeCapabilities] = {}
            for dtype in guest.domain_types if guest else []:
                assert guest is not None
                try:
                    xml = conn.getDomainCapabilities(None, guest.arch, None, dtype, 0)
                except libvirt.libvirtError as exc:
                    if is_connection_error(exc):
                        raise
                    logger.debug("no domain capabilities for %s: %s", dtype, exc)
                    continue
                domcaps[dtype] = parse_domain_capabilities(xml)
            try:
                hv_version: int | None = conn.getVersion()
            except libvirt.libvirtError:
                hv_version = None
            return {
                "hostname": conn.getHostname(),
                "driver": conn.getType(),
                "lib_version": conn.getLibVersion(),
                "hypervisor_version": hv_version,
                "host": host,
                "domcaps": domcaps,
                "node_info": conn.getInfo(),
                "free_memory_bytes": conn.getFreeMemory(),
            }

        gathered = self._call("read host capabilities", gather)
        try:
            pools = self.storage.pool_list()
        except HypervisorError as exc:  # drivers without storage
            logger.debug("no storage pools: %s", exc)
            pools = []
        try:
            networks = self.networks.list()
        except HypervisorError as exc:
            logger.debug("no networks: %s", exc)
            networks = []
        return assemble_capabilities(
            uri=self.uri,
            pools=pools,
            networks=networks,
            kvm_usable=kvm_usable,
            environ=environ,
            **gathered,
        )
