"""The QEMU a running domain runs: its process's own version (QMP ``query-version``).

After the host's QEMU package is upgraded, running domains keep the binary they were
started with until they are restarted or migrated; the version libvirt reports
(``Hypervisor.hypervisor_version``) is the installed one. libvirt marks a domain
*tainted* (``custom-monitor``) when a monitor command is sent to it: callers read the
version once per QEMU process (keyed by the domain's id) rather than at every look.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import libvirt
import libvirt_qemu

from .._facet import Facet
from ..errors import OperationFailed
from ..validation import check_name

# Drivers and states where no QEMU monitor answers: no version, rather than an error.
_NO_MONITOR = {
    libvirt.VIR_ERR_NO_SUPPORT,  # not the QEMU driver (test:///default, ...)
    libvirt.VIR_ERR_OPERATION_INVALID,  # the domain is not running
    libvirt.VIR_ERR_OPERATION_UNSUPPORTED,
}
QUERY_VERSION = json.dumps({"execute": "query-version"})


@dataclass(frozen=True)
class QemuVersion:
    """``version``: upstream ``major.minor.micro``; ``package``: the distribution's
    build string QEMU was compiled with (``Debian 1:7.2+dfsg-7+deb12u6``), or ""."""

    version: str
    package: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"version": self.version, "package": self.package}


def parse_query_version(reply: str) -> QemuVersion:
    """QMP's answer to ``query-version``: ``{"return": {"qemu": {"major", "minor",
    "micro"}, "package": "..."}}``."""
    try:
        data = json.loads(reply)
        ret = data["return"]
        qemu = ret["qemu"]
        version = f"{int(qemu['major'])}.{int(qemu['minor'])}.{int(qemu['micro'])}"
    except (ValueError, KeyError, TypeError) as exc:
        raise OperationFailed(f"unexpected answer to query-version: {reply[:200]!r}") from exc
    return QemuVersion(version=version, package=str(ret.get("package") or "").strip())


class DomainEmulator(Facet):
    """The QEMU version a running domain's process runs."""

    def qemu_version(self, name: str) -> QemuVersion | None:
        """The version of the QEMU process running ``name``; None when the domain is not
        running or the driver has no QEMU monitor to ask. Raises ``NotFound``."""
        name = check_name(name, what="domain name")

        def run(conn: libvirt.virConnect) -> QemuVersion | None:
            dom = conn.lookupByName(name)
            if not dom.isActive():
                return None
            try:
                reply = libvirt_qemu.qemuMonitorCommand(dom, QUERY_VERSION, 0)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() in _NO_MONITOR:
                    return None
                raise
            return parse_query_version(reply)

        return self._call(f"read the QEMU version of domain {name!r}", run)
