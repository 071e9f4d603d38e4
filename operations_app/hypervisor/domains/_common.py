"""What the parts of the domain facet share: libvirt's state codes, a domain's info
and product metadata, and which side (live, config) a change affects.
"""

from __future__ import annotations

import libvirt

from .._xml import PERSONA_NS
from ..domainxml import parse_metadata_xml
from ..errors import InvalidState
from ..types import DomainInfo, DomainMetadata, DomainState

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
