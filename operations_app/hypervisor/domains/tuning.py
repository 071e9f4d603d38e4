"""A domain's resource limits: CPU shares, period and quota, memory limits, block I/O
weight and per-disk I/O limits, set and read back.
"""

from __future__ import annotations

import libvirt

from .._facet import Facet
from ..domainxml import IOTUNE_FIELDS
from ..types import DiskIoTune, Tunables
from ..validation import check_int, check_target_dev
from ._common import affect_flags

_MEMORY_UNLIMITED = 9007199254740991  # VIR_DOMAIN_MEMORY_PARAM_UNLIMITED (KiB)


class DomainTuning(Facet):
    """Set and read a domain's resource limits."""

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
