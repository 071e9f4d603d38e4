"""The adaptation layer's dry run for many candidate moves at once: what placement asks
of each (VM, platform) pair it considers, with one connection per platform kept open for
the whole plan (read only; closed with the ``ExitStack`` the caller owns)."""

from __future__ import annotations

import contextlib

from operations_app import hypervisor as hv
from operations_app.adaptation.move import disk_map, plan_move
from operations_app.models import ManagedVM, Platform, VMState
from operations_app.placement.evacuation import DryRunVerdict, HostFacts, VMFacts
from operations_app.services.platforms import platform_connect


class MoveDryRuns:
    """``dry_run(vm_facts, host_facts)`` for VMs registered with ``vm_facts(row)``."""

    def __init__(self, stack: contextlib.ExitStack, platforms: dict[str, Platform]) -> None:
        self.stack = stack
        self.rows = platforms
        self.connections: dict[str, hv.Hypervisor | str] = {}
        self.by_uri: dict[str, hv.Hypervisor | str] = {}
        self.pool_paths: dict[str, str] = {}
        self.vms: dict[str, ManagedVM] = {}
        # one answer per (VM, platform): a plan may ask again (another pass over a host's
        # VMs) and the hosts do not change while it is made
        self.answers: dict[tuple[str, str], DryRunVerdict] = {}

    def connection(self, name: str) -> hv.Hypervisor | str:
        """The open connection to platform ``name``, or why it cannot be reached. One
        connection per libvirt URI: platforms that name the same daemon share it (read
        only, for the life of the plan)."""
        if name not in self.connections:
            row = self.rows[name]
            if row.uri not in self.by_uri:
                try:
                    conn = self.stack.enter_context(platform_connect(row, timeout=30))
                    self.by_uri[row.uri] = conn
                except hv.HypervisorError as exc:
                    self.by_uri[row.uri] = str(exc)
            self.connections[name] = self.by_uri[row.uri]
        return self.connections[name]

    def vm_facts(self, vm: ManagedVM) -> VMFacts:
        """What ``vm`` needs, its disks read from its platform (its inventory row when
        the platform cannot be read)."""
        self.vms[vm.name] = vm
        src = self.connection(vm.platform.name)
        running, disks = vm.state == VMState.RUNNING, {}
        if not isinstance(src, str):
            try:
                running = src.domains.state(vm.name).active
                disks = disk_map(src, vm.name, "")
            except hv.HypervisorError:
                pass
        return VMFacts(
            name=vm.name,
            vcpus=vm.vcpus,
            memory_mib=vm.memory_mib,
            disk_bytes=sum(d["capacity_bytes"] or 0 for d in disks.values()),
            disk_allocation_bytes=sum(
                d.get("allocation_bytes") or d["capacity_bytes"] or 0 for d in disks.values()
            ),
            running=running,
            profile=vm.profile_version.label if vm.profile_version else "",
        )

    def dry_run(self, vm: VMFacts, host: HostFacts) -> DryRunVerdict:
        key = (vm.name, host.name)
        if key not in self.answers:
            self.answers[key] = self._dry_run(vm, host)
        return self.answers[key]

    def _dry_run(self, vm: VMFacts, host: HostFacts) -> DryRunVerdict:
        row = self.vms[vm.name]
        src = self.connection(row.platform.name)
        if isinstance(src, str):
            return DryRunVerdict(False, reason=f"{row.platform.name} cannot be reached: {src}")
        tgt = self.connection(host.name)
        if isinstance(tgt, str):
            return DryRunVerdict(False, reason=f"{host.name} cannot be reached: {tgt}")
        version = row.profile_version
        try:
            if host.name not in self.pool_paths:
                pool = self.rows[host.name].storage_pool
                self.pool_paths[host.name] = tgt.storage.pool_info(pool).path or ""
            move = plan_move(
                src=src,
                tgt=tgt,
                vm_name=vm.name,
                source=row.platform,
                target=self.rows[host.name],
                fixes=((version.document if version else None) or {}).get("fixes", []),
                requested="auto",
                running=vm.running,
                pool_path=self.pool_paths[host.name],
            )
        except hv.HypervisorError as exc:
            return DryRunVerdict(False, reason=f"the dry run could not read the hosts: {exc}")
        adaptation = move["adaptation"]
        if not adaptation["ok"]:
            return DryRunVerdict(False, reason="; ".join(adaptation["problems"]))
        if move["refused"] or not move["path"]:
            return DryRunVerdict(False, reason=move["refused"] or "no way to move it")
        return DryRunVerdict(True, path=move["path"], reason=move["path_reason"])
