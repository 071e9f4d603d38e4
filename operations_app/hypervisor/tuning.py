"""Resource limits on a defined (and possibly running) domain: CPU scheduler values,
memory hard limit and per-disk I/O throttling, applied live and to the persistent config.
"""

from __future__ import annotations

import libvirt

from .types import DiskIoTune, Tunables


def _flags(dom: libvirt.virDomain, *, live: bool, config: bool) -> int:
    flags = 0
    if live and dom.isActive():
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    if config and dom.isPersistent():
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    return flags


def apply_tunables(
    hv,
    name: str,
    tunables: Tunables,
    *,
    disk_iotune: dict[str, DiskIoTune] | None = None,
    live: bool = True,
    config: bool = True,
) -> None:
    """Set CPU shares/period/quota, the memory hard limit and disks' I/O limits."""

    def run(conn: libvirt.virConnect) -> None:
        dom = conn.lookupByName(name)
        flags = _flags(dom, live=live, config=config)
        sched: dict[str, int] = {}
        if tunables.cpu_shares is not None:
            sched["cpu_shares"] = int(tunables.cpu_shares)
        if tunables.cpu_period is not None:
            sched["vcpu_period"] = int(tunables.cpu_period)
        if tunables.cpu_quota is not None:
            sched["vcpu_quota"] = int(tunables.cpu_quota)
        if sched:
            dom.setSchedulerParametersFlags(sched, flags)
        memory: dict[str, int] = {}
        if tunables.memory_hard_limit_mib is not None:
            memory["hard_limit"] = int(tunables.memory_hard_limit_mib) * 1024
        if tunables.memory_soft_limit_mib is not None:
            memory["soft_limit"] = int(tunables.memory_soft_limit_mib) * 1024
        if memory:
            dom.setMemoryParameters(memory, flags)
        for target, tune in (disk_iotune or {}).items():
            params = {k: int(v) for k, v in tune.to_dict().items() if v is not None}
            if params:
                dom.setBlockIoTune(target, params, flags)

    hv._call(f"set resource limits of domain {name!r}", run)


def read_tunables(hv, name: str) -> dict:
    """The live values libvirt enforces now (scheduler, memory, per-disk I/O)."""

    def run(conn: libvirt.virConnect) -> dict:
        dom = conn.lookupByName(name)
        flags = (
            libvirt.VIR_DOMAIN_AFFECT_LIVE if dom.isActive() else libvirt.VIR_DOMAIN_AFFECT_CONFIG
        )
        out: dict = {
            "scheduler": dom.schedulerParametersFlags(flags),
            "memory": dom.memoryParameters(flags),
            "disks": {},
        }
        return out

    return hv._call(f"read resource limits of domain {name!r}", run)
