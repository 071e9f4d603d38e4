"""The QEMU guest agent, through ``libvirt_qemu.qemuAgentCommand`` (JSON in, JSON out).

Every call has a deadline. ``AgentUnavailable`` means the agent did not answer (not
configured, not started yet, domain off); ``AgentCommandFailed`` carries the agent's own
error description. The transport is replaceable (``GuestAgent(hv, transport=...)``) so
the protocol handling can be exercised against a simulated agent.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import libvirt
import libvirt_qemu

from ._facet import Facet
from .errors import (
    AgentCommandFailed,
    AgentUnavailable,
    HypervisorError,
    InvalidSpec,
    InvalidState,
    OperationFailed,
    Unsupported,
    is_connection_error,
    libvirt_message,
)
from .types import ExecResult, GuestAddress, GuestFilesystem, GuestInterface, GuestOsInfo, GuestUser

if TYPE_CHECKING:
    from .connection import Hypervisor

logger = logging.getLogger(__name__)

Transport = Callable[[str, str, int], str]
"""(domain name, JSON command, timeout in seconds) -> JSON reply."""

CHUNK = 1024 * 1024
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
_AGENT_FAILED = re.compile(r"agent command '([^']*)': (.*)$", re.S)
_UNAVAILABLE_CODES = {
    libvirt.VIR_ERR_AGENT_UNRESPONSIVE,
    libvirt.VIR_ERR_AGENT_UNSYNCED,
    libvirt.VIR_ERR_OPERATION_INVALID,  # domain not running
    libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,  # no agent channel configured
    libvirt.VIR_ERR_OPERATION_TIMEOUT,
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def agent_error(exc: libvirt.libvirtError, *, domain: str, command: str) -> HypervisorError:
    """Map a libvirt error from an agent command to the agent's domain errors."""
    code = exc.get_error_code()
    detail = libvirt_message(exc)
    if code in _UNAVAILABLE_CODES:
        return AgentUnavailable(
            f"The guest agent of {domain!r} is not available for {command}: {detail}", code=code
        )
    if code == libvirt.VIR_ERR_NO_SUPPORT:
        return Unsupported(
            f"This driver cannot reach guest agents ({command}): {detail}", code=code
        )
    match = _AGENT_FAILED.search(detail)
    if match:
        description = match.group(2).strip()
        return AgentCommandFailed(
            f"Guest agent command {command} failed in {domain!r}: {description}",
            command=command,
            description=description,
            code=code,
        )
    return AgentCommandFailed(
        f"Guest agent command {command} failed in {domain!r}: {detail}",
        command=command,
        description=detail,
        code=code,
    )


class GuestAgent(Facet):
    """``hv.agent``: commands run inside a guest by its QEMU guest agent."""

    def __init__(self, hv: Hypervisor | None, *, transport: Transport | None = None) -> None:
        super().__init__(hv)  # type: ignore[arg-type]
        self._transport = transport or self._libvirt_transport

    def _libvirt_transport(self, domain: str, payload: str, timeout: int) -> str:
        command = json.loads(payload).get("execute", "?")

        def run(conn: libvirt.virConnect) -> str:
            dom = conn.lookupByName(domain)
            try:
                reply = libvirt_qemu.qemuAgentCommand(dom, payload, timeout, 0)
            except libvirt.libvirtError as exc:
                if is_connection_error(exc) or exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    raise
                raise agent_error(exc, domain=domain, command=command) from None
            if reply is None:
                raise AgentUnavailable(f"The guest agent of {domain!r} gave no answer to {command}")
            return reply

        return self._call(f"run guest agent command {command} in {domain!r}", run)

    # ------------------------------------------------------------------ protocol

    def command(
        self,
        domain: str,
        command: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: float = 10.0,
    ) -> Any:
        """Run one agent command and return its ``return`` value."""
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = dict(arguments)
        seconds = max(1, int(round(timeout)))
        reply = self._transport(domain, json.dumps(request), seconds)
        try:
            data = json.loads(reply)
        except ValueError:
            raise AgentCommandFailed(
                f"Guest agent command {command} in {domain!r} answered with invalid JSON",
                command=command,
                description="invalid JSON reply",
            ) from None
        if isinstance(data, dict) and "error" in data:
            error = data["error"] or {}
            description = str(error.get("desc") or error.get("class") or "unknown error")
            raise AgentCommandFailed(
                f"Guest agent command {command} failed in {domain!r}: {description}",
                command=command,
                description=description,
            )
        return data.get("return") if isinstance(data, dict) else None

    def ping(self, domain: str, *, timeout: float = 5.0) -> bool:
        """True when the agent answers ``guest-ping`` in time."""
        try:
            self.command(domain, "guest-ping", timeout=timeout)
        except AgentUnavailable:
            return False
        return True

    def wait_for_agent(
        self, domain: str, *, timeout: float | None = None, interval: float = 1.0
    ) -> float:
        """Wait until the agent answers; returns the seconds waited. Raises
        ``AgentUnavailable`` at the deadline and ``InvalidState`` if the domain stops."""
        limit = self._timeout if timeout is None else timeout
        started = time.monotonic()
        deadline = started + limit
        while True:
            remaining = deadline - time.monotonic()
            if self._hv is not None and not self._hv.domains.state(domain).active:
                raise InvalidState(f"Domain {domain!r} is not running; its agent cannot answer")
            if self.ping(domain, timeout=max(1.0, min(5.0, remaining))):
                return time.monotonic() - started
            if time.monotonic() + interval > deadline:
                raise AgentUnavailable(
                    f"The guest agent of {domain!r} did not answer within {limit:g}s"
                )
            time.sleep(interval)

    # ------------------------------------------------------------------ exec and files

    def exec(
        self,
        domain: str,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        poll_interval: float = 0.005,
    ) -> ExecResult:
        """Run ``argv`` in the guest (no shell), capture its output, wait up to ``timeout``.

        Status is polled after ``poll_interval``, doubling up to 1 s: most commands end
        within milliseconds, and a status round trip costs about 2 ms, so short commands
        are not held up by a long first sleep.

        On timeout the result has ``timed_out=True`` and no exit code; the process keeps
        running in the guest (the agent has no kill command).
        """
        if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
            raise InvalidSpec("argv must be a non-empty list of strings")
        arguments: dict[str, Any] = {"path": argv[0], "arg": list(argv[1:]), "capture-output": True}
        if env:
            arguments["env"] = [f"{k}={val}" for k, val in env.items()]
        if input is not None:
            arguments["input-data"] = _b64(input)
        deadline = time.monotonic() + timeout
        started = self.command(domain, "guest-exec", arguments, timeout=min(timeout, 30.0))
        pid = int(started["pid"])
        delay = poll_interval
        while True:
            remaining = deadline - time.monotonic()
            status = self.command(
                domain, "guest-exec-status", {"pid": pid}, timeout=max(1.0, min(10.0, remaining))
            )
            if status.get("exited"):
                return ExecResult(
                    exit_code=status.get("exitcode"),
                    signal=status.get("signal"),
                    stdout=_unb64(status.get("out-data")),
                    stderr=_unb64(status.get("err-data")),
                    pid=pid,
                )
            if time.monotonic() >= deadline:
                logger.info("guest-exec %s in %s timed out after %ss", argv[0], domain, timeout)
                return ExecResult(exit_code=None, stdout=b"", stderr=b"", timed_out=True, pid=pid)
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)

    def file_write(
        self,
        domain: str,
        path: str,
        data: bytes,
        *,
        append: bool = False,
        permissions: int | None = None,
        timeout: float = 30.0,
    ) -> int:
        """Write ``data`` to ``path`` in the guest (truncating unless ``append``); returns
        the bytes written. ``permissions`` (e.g. ``0o600``) is applied with ``chmod``."""
        if not isinstance(data, bytes | bytearray):
            raise InvalidSpec("file data must be bytes")
        handle = self.command(
            domain,
            "guest-file-open",
            {"path": path, "mode": "a" if append else "w"},
            timeout=timeout,
        )
        written = 0
        try:
            view = memoryview(bytes(data))
            while written < len(view):
                chunk = view[written : written + CHUNK]
                result = self.command(
                    domain,
                    "guest-file-write",
                    {"handle": handle, "buf-b64": _b64(bytes(chunk))},
                    timeout=timeout,
                )
                count = int(result.get("count", 0))
                if count <= 0:
                    raise OperationFailed(
                        f"The guest agent wrote nothing to {path!r} in {domain!r}"
                    )
                written += count
            self.command(domain, "guest-file-flush", {"handle": handle}, timeout=timeout)
        finally:
            try:
                self.command(domain, "guest-file-close", {"handle": handle}, timeout=timeout)
            except HypervisorError as exc:
                logger.warning("closing %s in %s failed: %s", path, domain, exc)
        if permissions is not None:
            result = self.exec(domain, ["chmod", format(permissions, "o"), path], timeout=timeout)
            if not result.ok:
                raise AgentCommandFailed(
                    f"chmod {format(permissions, 'o')} {path} failed in {domain!r}: "
                    f"{result.stderr_text.strip()}",
                    command="guest-exec chmod",
                    description=result.stderr_text.strip(),
                )
        return written

    def file_read(
        self, domain: str, path: str, *, max_bytes: int = 16 * 1024 * 1024, timeout: float = 30.0
    ) -> bytes:
        """Read a whole file from the guest. Raises ``OperationFailed`` above ``max_bytes``."""
        handle = self.command(
            domain, "guest-file-open", {"path": path, "mode": "r"}, timeout=timeout
        )
        parts: list[bytes] = []
        size = 0
        try:
            while True:
                result = self.command(
                    domain, "guest-file-read", {"handle": handle, "count": CHUNK}, timeout=timeout
                )
                chunk = _unb64(result.get("buf-b64"))
                parts.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise OperationFailed(
                        f"{path!r} in {domain!r} is larger than {max_bytes} bytes"
                    )
                if result.get("eof") or not chunk:
                    break
        finally:
            try:
                self.command(domain, "guest-file-close", {"handle": handle}, timeout=timeout)
            except HypervisorError as exc:
                logger.warning("closing %s in %s failed: %s", path, domain, exc)
        return b"".join(parts)

    def boot_id(self, domain: str, *, timeout: float = 10.0) -> str:
        """The guest kernel's boot id (Linux: ``/proc/sys/kernel/random/boot_id``), new at
        every boot: a restart seen from outside the guest. Raises the agent's errors."""
        data = self.file_read(domain, BOOT_ID_PATH, max_bytes=4096, timeout=timeout)
        return data.decode("ascii", "replace").strip()

    # ------------------------------------------------------------------ inventory

    def users(self, domain: str, *, timeout: float = 10.0) -> list[GuestUser]:
        return [
            GuestUser(
                name=u.get("user", ""), domain=u.get("domain"), login_time=u.get("login-time")
            )
            for u in self.command(domain, "guest-get-users", timeout=timeout) or []
        ]

    def network_interfaces(self, domain: str, *, timeout: float = 10.0) -> list[GuestInterface]:
        out = []
        for nic in self.command(domain, "guest-network-get-interfaces", timeout=timeout) or []:
            out.append(
                GuestInterface(
                    name=nic.get("name", ""),
                    mac=nic.get("hardware-address"),
                    addresses=[
                        GuestAddress(
                            type=a.get("ip-address-type", ""),
                            address=a.get("ip-address", ""),
                            prefix=a.get("prefix"),
                        )
                        for a in nic.get("ip-addresses", []) or []
                    ],
                )
            )
        return out

    def os_info(self, domain: str, *, timeout: float = 10.0) -> GuestOsInfo:
        info = self.command(domain, "guest-get-osinfo", timeout=timeout) or {}
        return GuestOsInfo(
            id=info.get("id"),
            name=info.get("name"),
            pretty_name=info.get("pretty-name"),
            version=info.get("version"),
            version_id=info.get("version-id"),
            kernel_release=info.get("kernel-release"),
            kernel_version=info.get("kernel-version"),
            machine=info.get("machine"),
        )

    def filesystems(self, domain: str, *, timeout: float = 10.0) -> list[GuestFilesystem]:
        out = []
        for fs in self.command(domain, "guest-get-fsinfo", timeout=timeout) or []:
            disks = []
            for disk in fs.get("disk", []) or []:
                ident = disk.get("serial") or disk.get("dev")
                if ident:
                    disks.append(str(ident))
            out.append(
                GuestFilesystem(
                    mountpoint=fs.get("mountpoint", ""),
                    name=fs.get("name"),
                    type=fs.get("type"),
                    total_bytes=fs.get("total-bytes"),
                    used_bytes=fs.get("used-bytes"),
                    disks=disks,
                )
            )
        return out

    def shutdown(self, domain: str, *, reboot: bool = False) -> None:
        """Ask the agent to power the guest off (or reboot it); does not wait."""

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(domain)
            try:
                if reboot:
                    dom.reboot(libvirt.VIR_DOMAIN_REBOOT_GUEST_AGENT)
                else:
                    dom.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT)
            except libvirt.libvirtError as exc:
                if is_connection_error(exc):
                    raise
                raise agent_error(exc, domain=domain, command="guest-shutdown") from None

        self._call(f"shut down domain {domain!r} through its agent", run)
