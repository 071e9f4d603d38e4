"""Clone: from an approved VPPD version to a verified VM (the spec's ten steps).

1. retrieve the VPPD version (and check it is the approved content the job names);
2. provision the VM on the platform: the domain with its name, metadata, vCPUs, memory;
3. install the base image as a linked clone and boot it to a responding guest agent;
4. install the runtime environment and every application, in order, through the agent;
5. create the data volumes (LUKS-encrypted with the VPPD key), attach, format, mount;
6. network: NICs on the right network/VLAN with their MACs, the firewall as an nwfilter,
   static IPv4 (or DHCP) inside the guest;
7. resources: CPU shares/quota, memory hard limit, disk I/O limits as libvirt tunables;
8. security profile: groups, users, SSH keys, sudo, permissions, intrusion detection;
9. monitoring agents deployed and started;
10. verification: one check per VPPD element, read back from libvirt and from the guest.

Every step is idempotent (names are derived from the job, and each libvirt object is
recorded as a job resource before it is made), so rollback removes exactly what the job
made, also after a worker died half-way.
"""

from __future__ import annotations

import logging
import time

from operations_app import hypervisor as hv
from operations_app.models import BaseImage, BaseImageLocation, ResourceKind, VMState
from operations_app.placement import PlacementRefused, Plan
from operations_app.runners.base import Step, StepFailed
from operations_app.runners.vm import VMRunner
from operations_app.services import jobs as job_services
from operations_app.services.inventory import inventory_vm_gone, inventory_vm_record
from operations_app.services.placement import clone_placement
from profiles_app.documents import content_hash
from vmpersona.units import duration_text

logger = logging.getLogger(__name__)

GIB = 1024**3


class CloneRunner(VMRunner):
    def steps(self) -> list[Step]:
        return [
            Step("retrieve", "Retrieve the profile version", self.step_retrieve, 1),
            Step("provision", "Provision the VM on the platform", self.step_provision, 1),
            Step("base_image", "Install the base image and boot", self.step_base_image, 4),
            Step("applications", "Install applications and runtimes", self.step_applications, 4),
            Step("volumes", "Create, encrypt and mount data volumes", self.step_volumes, 3),
            Step("network", "Configure network and firewall", self.step_network, 3),
            Step("resources", "Apply resource limits", self.step_resources, 1),
            Step("security", "Enforce the security profile", self.step_security, 2),
            Step("monitoring", "Deploy monitoring agents", self.step_monitoring, 2),
            Step(
                "verify", "Verify the VM against the profile", self.step_verify, 3, verifying=True
            ),
            *self.watch_steps(),
        ]

    # ----------------------------------------------------------------- 1 retrieve

    def step_retrieve(self) -> str:
        job = self.job
        version = self.version
        version.refresh_from_db()
        if version.status != "approved":
            raise StepFailed(
                f"{version.label} is no longer approved ({version.status}).", check="/"
            )
        if content_hash(version.document) != job.content_hash:
            raise StepFailed(
                f"{version.label}'s content does not match the hash the job was requested with.",
                check="/",
            )
        self.document = version.document
        try:
            placement = clone_placement(
                platform=job.platform, document=self.document, vm_name=job.vm_name
            )
        except PlacementRefused as exc:
            raise StepFailed(str(exc), check=exc.pointer) from exc
        self._image = BaseImage.objects.filter(image_id=self.document.get("base_image_id")).first()
        pool_info = self.conn.storage.pool_info(placement.pool)
        self.plan = Plan.of(placement, pool_path=pool_info.path or "")
        self.save_plan()
        for reason in placement.reasons:
            logger.debug("job %s placement: %s", job.pk, reason)
        return (
            f"{version.label} (hash {version.content_hash[:12]}), base image {self.image.image_id}; "
            f"{placement.domain_type} domain, machine {placement.machine}, {placement.disk_bus} disks, "
            f"{len(placement.interfaces)} NIC(s), {len(placement.volumes)} volume(s)"
        )

    # ----------------------------------------------------------------- 2 provision

    def domain_spec(self, *, disks: list[hv.DiskSpec] | None = None) -> hv.DomainSpec:
        self.load_state()
        doc, plan, image, job = self.document, self.plan, self.image, self.job
        res = doc["resource_allocation"]
        boot = hv.BootSpec()
        if image.kernel:
            cmdline = " ".join(x for x in (image.cmdline, f"hostname={job.vm_name}") if x)
            boot = hv.BootSpec(kernel=image.kernel, initrd=image.initrd or None, cmdline=cmdline)
        return hv.DomainSpec(
            name=job.vm_name,
            domain_type=plan.domain_type,
            machine=plan.machine,
            vcpus=int(res["vcpus"]),
            memory_mib=int(res["memory_mib"]),
            boot=boot,
            disks=disks or [],
            interfaces=[],
            # Volumes and NICs are hot-plugged in later steps; keep a few ports spare.
            hotplug_slots=len(plan.volumes) + len(plan.interfaces) + 2,
            description=f"{doc.get('description', '')[:200]}",
            metadata=hv.DomainMetadata(
                profile=self.version.policy.name,
                profile_version=self.version.number,
                content_hash=self.version.content_hash,
                execution_flags=list(doc.get("execution_flags", [])),
                job_id=str(job.uuid),
            ),
        )

    def step_provision(self) -> str:
        self.load_state()
        name = self.job.vm_name
        if self.conn.domains.exists(name):
            info = self.conn.domains.lookup(name)
            meta = info.metadata
            if meta is None or meta.job_id != str(self.job.uuid):
                raise StepFailed(
                    f"A domain named {name} already exists on {self.job.platform.name}.",
                    check="vm_name",
                )
            return f"domain {name} already defined by this job"
        self.track(ResourceKind.DOMAIN, name)
        disk = hv.DiskSpec(
            target="vda", pool=self.plan.pool, volume=self.plan.root_volume, bus=self.plan.disk_bus
        )
        info = self.conn.domains.define(self.domain_spec(disks=[disk]))
        return f"domain {info.name} defined ({info.vcpus} vCPU, {info.memory_mib} MiB), uuid {info.uuid}"

    # ----------------------------------------------------------------- 3 base image

    def step_base_image(self) -> str:
        self.load_state()
        plan, job = self.plan, self.job
        location = BaseImageLocation.objects.get(image=self.image, platform=job.platform)
        storage_gib = float(self.document["resource_allocation"]["storage_gib"])
        capacity = max(int(storage_gib * GIB), self.image.virtual_size_bytes or 0)
        if not self.conn.storage.volume_exists(plan.pool, plan.root_volume):
            self.track(ResourceKind.VOLUME, plan.root_volume, pool=plan.pool)
            vol = self.conn.storage.volume_create_linked_clone(
                plan.pool,
                plan.root_volume,
                base_path=location.path,
                base_format=self.image.format,
                capacity_bytes=capacity,
            )
            self.log(
                f"root disk {vol.path}: linked clone of {location.path}, {capacity // (1024 * 1024)} MiB"
            )
        state = self.conn.domains.state(job.vm_name)
        if not state.active:
            self.conn.domains.start(job.vm_name)
            self.log("domain started; waiting for the guest agent")
        guest = self.guest()
        osinfo = self.guest_call(guest.wait_ready, timeout=300)
        self.guest_call(guest.set_hostname, job.vm_name)
        self._record_vm(VMState.RUNNING)
        return f"guest agent answers: {getattr(osinfo, 'pretty_name', '') or getattr(osinfo, 'id', '')}"

    def _record_vm(self, state: str):
        return inventory_vm_record(
            job=self.job,
            info=self.conn.domains.lookup(self.job.vm_name),
            state=state,
            execution_flags=list(self.document.get("execution_flags", [])),
        )

    # ----------------------------------------------------------------- 4 applications

    def step_applications(self) -> str:
        self.load_state()
        guest = self.guest()
        runtime = self.document.get("runtime_environment", [])
        apps = self.document.get("application_manifest", [])
        security = self.document.get("security_profile") or {}
        if security.get("groups") or security.get("users"):
            # Files the applications install may belong to the profile's accounts.
            self.guest_call(guest.prepare_accounts, security)
        if runtime:
            self.guest_call(guest.install_runtime, runtime)
        if apps:
            self.guest_call(guest.install_applications, apps)
        return f"{len(runtime)} runtime(s), {len(apps)} application(s) installed"

    # ----------------------------------------------------------------- 5 volumes

    def _volume_key(self, vol: dict) -> bytes:
        from profiles_app.services.keys import volume_key_generate, volume_key_reveal

        if vol["key_ref"]:
            return volume_key_reveal(name=vol["key_ref"]).encode()
        if vol["generate"]:
            row, plain = volume_key_generate(
                name_hint=f"{self.job.vm_name}-{vol['name']}",
                description=f"generated for data volume '{vol['name']}' of VM {self.job.vm_name}",
            )
            vol["key_ref"] = row.name
            vol["generate"] = False
            self.save_plan()
            return plain.encode()
        raise StepFailed("An encrypted volume needs a key.", check=f"{vol['pointer']}/encryption")

    def _record_volume_keys(self) -> None:
        """Name in the domain's metadata the stored key of each encrypted volume (by disk
        serial): its libvirt secret is ephemeral, and whoever starts the domain after the
        host restarted supplies it again from that key."""
        keys = {
            v["serial"]: v["key_ref"]
            for v in self.plan.volumes
            if v["encrypted"] and v.get("key_ref")
        }
        if not keys:
            return
        md = self.conn.domains.get_metadata(self.job.vm_name) or hv.DomainMetadata()
        if all(md.volume_keys.get(serial) == ref for serial, ref in keys.items()):
            return
        md.volume_keys.update(keys)
        self.conn.domains.set_metadata(self.job.vm_name, md)

    def step_volumes(self) -> str:
        self.load_state()
        plan = self.plan
        if not plan.volumes:
            return "no data volumes"
        definition = self.conn.domains.xml(self.job.vm_name)
        for vol in plan.volumes:
            if not self.conn.storage.volume_exists(plan.pool, vol["volume"]):
                self.track(ResourceKind.VOLUME, vol["volume"], pool=plan.pool)
                if vol["encrypted"]:
                    key = self._volume_key(vol)
                    info = self.conn.storage.volume_create_encrypted(
                        plan.pool,
                        vol["volume"],
                        capacity_bytes=vol["size_bytes"],
                        passphrase=key,
                        format="qcow2",
                        description=f"data volume {vol['name']} of {self.job.vm_name}",
                    )
                    self.track(ResourceKind.SECRET, info.secret_uuid or "", volume=info.path)
                    self.log(
                        f"volume {vol['name']}: {info.path}, LUKS-encrypted (secret {info.secret_uuid})"
                    )
                else:
                    info = self.conn.storage.volume_create(
                        plan.pool,
                        vol["volume"],
                        capacity_bytes=vol["size_bytes"],
                        format=vol["format"],
                    )
                    self.log(f"volume {vol['name']}: {info.path}")
            info = self.conn.storage.volume_info(plan.pool, vol["volume"])
            if vol["serial"] not in definition:
                disk = hv.DiskSpec(
                    target=vol["target"],
                    path=info.path,
                    format=info.format or "qcow2",
                    bus=plan.disk_bus,
                    serial=vol["serial"],
                    encryption_secret_uuid=info.secret_uuid if info.encrypted else None,
                )
                self.conn.domains.attach_disk(self.job.vm_name, disk, live=True, config=True)
                self.log(f"volume {vol['name']} attached as {vol['target']}")
        self._record_volume_keys()
        devices = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            devices = self.devices()
            if len(devices) == len(plan.volumes):
                break
            time.sleep(1)
        missing = [v["name"] for v in plan.volumes if v["name"] not in devices]
        if missing:
            raise StepFailed(
                f"The guest does not see volume(s) {', '.join(missing)}.",
                check=plan.volumes[0]["pointer"],
            )
        guest = self.guest()
        self.guest_call(guest.setup_volumes, self.document["data_volume_definitions"], devices)
        return ", ".join(f"{name} on {dev}" for name, dev in devices.items())

    # ----------------------------------------------------------------- 6 network

    def step_network(self) -> str:
        self.load_state()
        plan = self.plan
        if not plan.interfaces:
            return "no network interfaces"
        if plan.filter_name:
            self.track(ResourceKind.NWFILTER, plan.filter_name)
            self.conn.nwfilters.define(self.firewall_spec())
            self.log(
                f"firewall filter {plan.filter_name} defined with {len(self.firewall_spec().rules)} rule(s)"
            )
        definition = self.conn.domains.xml(self.job.vm_name)
        for nic in plan.interfaces:
            if nic["mac"] in definition.lower():
                continue
            spec = hv.InterfaceSpec(
                network=nic["network"],
                portgroup=nic["portgroup"],
                mac=nic["mac"],
                model=nic["model"],
                filter=plan.filter_name,
                vlan_tag=nic["vlan_tag"],
            )
            self.conn.domains.attach_interface(self.job.vm_name, spec, live=True, config=True)
            self.log(
                f"NIC {nic['mac']} on {nic['network']}"
                + (f" (VLAN {nic['vlan_tag']})" if nic["vlan_tag"] else "")
            )
        self.wait_for_nics([n["mac"] for n in plan.interfaces])
        guest = self.guest()
        self.guest_call(
            guest.configure_network,
            self.document["network_configuration"]["interfaces"],
            [n["mac"] for n in plan.interfaces],
        )
        return f"{len(plan.interfaces)} interface(s), filter {plan.filter_name or 'none'}"

    def wait_for_nics(self, macs: list[str], timeout: float = 90) -> None:
        """Hot-plugged NICs take a moment to appear in the guest; wait for every MAC."""
        deadline = time.monotonic() + timeout
        seen: set[str] = set()
        while time.monotonic() < deadline:
            try:
                seen = {
                    (i.mac or "").lower()
                    for i in self.conn.agent.network_interfaces(self.job.vm_name)
                }
            except hv.HypervisorError:
                seen = set()
            if all(m in seen for m in macs):
                return
            job_services.job_heartbeat(job=self.job)
            time.sleep(1)
        missing = [m for m in macs if m not in seen]
        raise StepFailed(
            f"The guest does not see NIC(s) {', '.join(missing)} "
            f"{duration_text(timeout, whole=True)} after they were attached.",
            check="/network_configuration/interfaces",
        )

    # ----------------------------------------------------------------- 7 resources

    def step_resources(self) -> str:
        self.load_state()
        tunables, tune = self.tunables()
        targets = ["vda", *[v["target"] for v in self.plan.volumes]]
        iotune = {t: tune for t in targets} if tune else None
        name = self.job.vm_name
        notes = []
        ceiling = (self.job.platform.capabilities or {}).get("memory_hard_limit_max_mib")
        hard = tunables.memory_hard_limit_mib
        if hard is not None and ceiling is not None and hard > ceiling:
            # The host cannot raise the locked-memory limit that far at start-up, so a
            # hard limit in the saved definition would stop the VM from ever starting
            # again. Enforce it on the running VM only, and say so.
            persistent = hv.Tunables(**{**tunables.to_dict(), "memory_hard_limit_mib": None})
            self.conn.domains.set_tunables(
                name, persistent, disk_iotune=iotune, live=True, config=True
            )
            self.conn.domains.set_tunables(
                name, hv.Tunables(memory_hard_limit_mib=hard), live=True, config=False
            )
            notes.append(
                f"memory hard limit {hard} MiB enforced on the running VM only: {self.job.platform.name} "
                f"cannot lock more than {ceiling} MiB at start-up, so it is not saved in the definition"
            )
            self.log(notes[-1], level="warning")
        else:
            self.conn.domains.set_tunables(
                name, tunables, disk_iotune=iotune, live=True, config=True
            )
        parts = [f"{k}={v}" for k, v in tunables.to_dict().items() if v is not None]
        if tune:
            parts.append("disk I/O limits on " + ", ".join(targets))
        return "; ".join([", ".join(parts) or "no limits requested", *notes])

    # ----------------------------------------------------------------- 8, 9

    def step_security(self) -> str:
        self.load_state()
        security = self.document.get("security_profile") or {}
        if not security:
            return "no security profile"
        self.guest_call(self.guest().apply_security, security)
        return f"{len(security.get('users', []))} user(s), {len(security.get('permissions', []))} permission(s)"

    def step_monitoring(self) -> str:
        self.load_state()
        agents = self.document.get("monitoring_agents", [])
        if not agents:
            return "no monitoring agents"
        self.guest_call(self.guest().deploy_monitoring, agents)
        return ", ".join(a["name"] for a in agents)

    # ----------------------------------------------------------------- 10 verify

    # ----------------------------------------------------------------- outcome

    def on_success(self) -> None:
        super().on_success()
        vm = self._record_vm(VMState.RUNNING)
        self.job.result = {**(self.job.result or {}), "vm_id": vm.pk}

    def rollback(self) -> list[str]:
        self.close()  # rollback opens its own connections
        leftovers = super().rollback()
        if not leftovers and self.job.vm_id:
            inventory_vm_gone(vm_id=self.job.vm_id)
        return leftovers

    def success_message(self) -> str:
        summary = (self.job.result or {}).get("verification", {})
        return (
            f"{self.job.vm_name} cloned from {self.version.label} on {self.job.platform.name} "
            f"and verified ({summary.get('passed', '?')}/{summary.get('checks', '?')} checks)."
        )


__all__ = ["CloneRunner"]
