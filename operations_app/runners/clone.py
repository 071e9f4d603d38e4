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

import hashlib
import json
import logging
from dataclasses import dataclass, field

from django.utils import timezone

from operations_app import hypervisor as hv
from operations_app.constraints import effective_capabilities
from operations_app.models import (
    BaseImage,
    BaseImageLocation,
    ManagedVM,
    OperationJob,
    ResourceKind,
    VerificationCheck,
    VMState,
)
from operations_app.runners.base import Runner, Step, StepFailed
from operations_app.services import events as event_services
from operations_app.services import jobs as job_services
from operations_app.services.platforms import platform_connect, platform_refresh
from operations_app.services.resources import resource_track
from profiles_app.documents import content_hash
from profiles_app.models import PolicyVersion

logger = logging.getLogger(__name__)

GIB = 1024**3


def stable_mac(vm_name: str, index: int) -> str:
    """A locally administered unicast MAC derived from the VM name (same on every retry)."""
    digest = hashlib.sha256(f"{vm_name}/{index}".encode()).digest()
    return f"52:54:00:{digest[0]:02x}:{digest[1]:02x}:{digest[2]:02x}"


@dataclass
class Check:
    section: str
    pointer: str
    name: str
    expected: str
    actual: str
    passed: bool
    source: str = "libvirt"
    detail: str = ""


@dataclass
class Plan:
    domain_type: str
    machine: str | None
    disk_bus: str
    pool: str
    pool_path: str
    root_volume: str
    interfaces: list[dict] = field(default_factory=list)  # network, portgroup, vlan_tag, mac, model
    volumes: list[dict] = field(
        default_factory=list
    )  # name, volume, serial, target, encrypted, key_ref
    filter_name: str | None = None

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def _check_str(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


class CloneRunner(Runner):
    def __init__(self, job: OperationJob) -> None:
        super().__init__(job)
        self.document: dict = {}
        self._plan: Plan | None = None
        self._image: BaseImage | None = None
        self._conn: hv.Hypervisor | None = None

    @property
    def version(self) -> PolicyVersion:
        """The profile version the job was requested with."""
        if self.job.profile_version is None:
            raise StepFailed("The job names no profile version.", check="/")
        return self.job.profile_version

    @property
    def plan(self) -> Plan:
        """What the job provisions; recorded by the step that decides it."""
        if self._plan is None:
            raise StepFailed("The job's provisioning plan has not been recorded.")
        return self._plan

    @plan.setter
    def plan(self, value: Plan) -> None:
        self._plan = value

    @property
    def image(self) -> BaseImage:
        """The profile's base image, found by the retrieve step."""
        if self._image is None:
            raise StepFailed("The profile's base image is not registered.", check="/base_image_id")
        return self._image

    # ----------------------------------------------------------------- plumbing

    @property
    def conn(self) -> hv.Hypervisor:
        if self._conn is None:
            self._conn = platform_connect(self.job.platform, timeout=60)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run(self):
        try:
            return super().run()
        finally:
            self.close()

    def track(self, kind: str, identifier: str, **detail) -> None:
        resource_track(
            job=self.job, platform=self.job.platform, kind=kind, identifier=identifier, **detail
        )

    def guest(self):
        from operations_app.guest import GuestProvisioner

        return GuestProvisioner(
            self.conn,
            self.job.vm_name,
            log=self.log,
            heartbeat=lambda: job_services.job_heartbeat(job=self.job),
            cancelled=lambda: job_services.job_cancel_requested(job=self.job),
        )

    def guest_call(self, func, *args, **kwargs):
        from operations_app.guest import GuestStepError

        try:
            return func(*args, **kwargs)
        except GuestStepError as exc:
            raise StepFailed(str(exc), check=getattr(exc, "pointer", "")) from exc
        except hv.HypervisorError as exc:
            raise StepFailed(f"The guest could not be reached: {exc}") from exc

    def save_plan(self) -> None:
        self.job.result = {
            **(self.job.result or {}),
            "plan": self._plan.to_dict() if self._plan else None,
        }
        OperationJob.objects.filter(pk=self.job.pk).update(result=self.job.result)

    def load_state(self) -> None:
        """Recompute the document and plan (steps may run in a fresh runner after a retry)."""
        if not self.document:
            self.document = self.version.document
        if self._plan is None and (self.job.result or {}).get("plan"):
            self._plan = Plan(**self.job.result["plan"])
        if self._image is None:
            self._image = BaseImage.objects.filter(
                image_id=self.document.get("base_image_id")
            ).first()

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
        image_id = self.document.get("base_image_id")
        self._image = BaseImage.objects.filter(image_id=image_id).first()
        if self._image is None:
            raise StepFailed(f"Base image '{image_id}' is not registered.", check="/base_image_id")
        location = BaseImageLocation.objects.filter(image=self.image, platform=job.platform).first()
        if location is None:
            raise StepFailed(
                f"Base image '{image_id}' is not available on {job.platform.name}.",
                check="/base_image_id",
            )
        platform = job.platform
        if not platform.capabilities:
            platform = platform_refresh(platform=platform)
            if not platform.capabilities:
                raise StepFailed(
                    f"Platform {platform.name} cannot be reached: {platform.last_error}"
                )
        eff = effective_capabilities(platform.capabilities, platform.constraints)
        res = self.document["resource_allocation"]
        if eff.get("max_vcpus") and res["vcpus"] > eff["max_vcpus"]:
            raise StepFailed(
                f"{res['vcpus']} vCPUs exceed what {platform.name} allows ({eff['max_vcpus']}).",
                check="/resource_allocation/vcpus",
            )
        if res["memory_mib"] < self.image.min_memory_mib:
            raise StepFailed(
                f"{res['memory_mib']} MiB is below the base image's minimum of {self.image.min_memory_mib} MiB.",
                check="/resource_allocation/memory_mib",
            )
        accelerators = eff.get("accelerators") or []
        domain_type = (
            "kvm" if "kvm" in accelerators else ("qemu" if "qemu" in accelerators else None)
        )
        if domain_type is None:
            raise StepFailed(f"{platform.name} offers no usable accelerator.")
        machines = eff.get("machine_types") or []
        machine = next(
            (m for m in ("pc", "q35") if m in machines), machines[0] if machines else None
        )
        buses = eff.get("disk_buses") or ["virtio"]
        disk_bus = "virtio" if "virtio" in buses else buses[0]
        nic_models = eff.get("nic_models") or ["virtio"]
        vm = job.vm_name
        pool_info = self.conn.storage.pool_info(platform.storage_pool)
        interfaces = []
        vlan_map = platform.vlan_networks or {}
        ovs = bool((platform.capabilities or {}).get("openvswitch"))
        for i, nic in enumerate(
            self.document.get("network_configuration", {}).get("interfaces", [])
        ):
            pointer = f"/network_configuration/interfaces/{i}"
            model = nic.get("model") or ("virtio" if "virtio" in nic_models else nic_models[0])
            if model not in nic_models:
                raise StepFailed(
                    f"NIC model {model} is not allowed on {platform.name} (allowed: {', '.join(nic_models)}).",
                    check=f"{pointer}/model",
                )
            network, portgroup, tag = nic["network"], None, None
            if nic.get("vlan"):
                try:
                    placement = hv.place_vlan(
                        int(nic["vlan"]),
                        mapping=vlan_map,
                        ovs_available=ovs,
                        trunk_network=nic["network"] if ovs else None,
                    )
                except hv.HypervisorError as exc:
                    raise StepFailed(
                        f"On {platform.name}: {exc}",
                        check=f"{pointer}/vlan",
                    ) from exc
                network, portgroup, tag = placement.network, placement.portgroup, placement.vlan_tag
            if platform.networks and network not in platform.networks:
                raise StepFailed(
                    f"Network {network} is not offered by {platform.name} (offered: {', '.join(platform.networks)}).",
                    check=f"{pointer}/network",
                )
            interfaces.append(
                {
                    "network": network,
                    "portgroup": portgroup,
                    "vlan_tag": tag,
                    "model": model,
                    "mac": (nic.get("mac") or stable_mac(vm, i)).lower(),
                    "pointer": pointer,
                }
            )
        volumes = []
        letters = "bcdefghijklmnopqrstuvwxyz"
        for i, vol in enumerate(self.document.get("data_volume_definitions", [])):
            enc = vol.get("encryption") or {}
            volumes.append(
                {
                    "name": vol["name"],
                    "volume": f"{vm}-{vol['name']}.qcow2",
                    "serial": hashlib.sha256(f"{vm}/{vol['name']}".encode()).hexdigest()[:16],
                    "target": f"vd{letters[i]}",
                    "size_bytes": int(float(vol["size_gib"]) * GIB),
                    "format": vol.get("format") or "qcow2",
                    "encrypted": bool(enc.get("enabled")),
                    "key_ref": enc.get("key_ref"),
                    "generate": bool(enc.get("generate")),
                    "pointer": f"/data_volume_definitions/{i}",
                }
            )
        rules = self.document.get("network_configuration", {}).get("firewall_rules", [])
        self.plan = Plan(
            domain_type=domain_type,
            machine=machine,
            disk_bus=disk_bus,
            pool=platform.storage_pool,
            pool_path=pool_info.path or "",
            root_volume=f"{vm}-root.qcow2",
            interfaces=interfaces,
            volumes=volumes,
            filter_name=hv.filter_name_for(vm) if (rules or interfaces) else None,
        )
        self.save_plan()
        return (
            f"{version.label} (hash {version.content_hash[:12]}), base image {image_id}; "
            f"{domain_type} domain, machine {machine}, {disk_bus} disks, {len(interfaces)} NIC(s), {len(volumes)} volume(s)"
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

    def _record_vm(self, state: str) -> ManagedVM:
        info = self.conn.domains.lookup(self.job.vm_name)
        import uuid as uuid_mod

        vm, _ = ManagedVM.objects.update_or_create(
            platform=self.job.platform,
            domain_uuid=uuid_mod.UUID(info.uuid),
            defaults={
                "name": info.name,
                "state": state,
                "managed": True,
                "profile_version": self.version,
                "content_hash": self.version.content_hash,
                "execution_flags": list(self.document.get("execution_flags", [])),
                "vcpus": info.vcpus,
                "memory_mib": info.memory_mib,
                "metadata": info.metadata.to_dict() if info.metadata else {},
                "last_seen": timezone.now(),
            },
        )
        if self.job.vm_id != vm.pk:
            OperationJob.objects.filter(pk=self.job.pk).update(vm=vm)
            self.job.vm = vm
        return vm

    # ----------------------------------------------------------------- 4 applications

    def step_applications(self) -> str:
        self.load_state()
        guest = self.guest()
        runtime = self.document.get("runtime_environment", [])
        apps = self.document.get("application_manifest", [])
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

    def devices(self) -> dict[str, str]:
        """Volume name -> guest device, found by the disk serial the guest reports."""
        self.load_state()
        if not self.plan.volumes:
            return {}
        result = self.conn.agent.exec(
            self.job.vm_name,
            [
                "/bin/sh",
                "-c",
                'for d in /sys/block/*; do [ -r "$d/serial" ] && echo "${d##*/} $(cat "$d/serial")"; done; true',
            ],
            timeout=30,
        )
        by_serial = {}
        for line in result.stdout_text.splitlines():
            parts = line.split()
            if len(parts) == 2:
                by_serial[parts[1]] = f"/dev/{parts[0]}"
        return {
            v["name"]: by_serial[v["serial"]] for v in self.plan.volumes if v["serial"] in by_serial
        }

    def step_volumes(self) -> str:
        self.load_state()
        plan = self.plan
        if not plan.volumes:
            return "no data volumes"
        domain_xml = self.conn.domains.xml(self.job.vm_name)
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
            if vol["serial"] not in domain_xml:
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
        devices = {}
        import time

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

    def firewall_spec(self) -> hv.NWFilterSpec:
        name = self.plan.filter_name
        if not name:
            raise StepFailed("The profile has no firewall rules to make a filter of.")
        net = self.document.get("network_configuration", {})
        rules = []
        for rule in net.get("firewall_rules", []):
            port = rule.get("port")
            port_end = None
            if rule.get("port_range"):
                port, port_end = rule["port_range"]["from"], rule["port_range"]["to"]
            rules.append(
                hv.FirewallRule(
                    direction=rule["direction"],
                    protocol=rule.get("protocol", "all"),
                    action=rule.get("action", "accept"),
                    port=port,
                    port_end=port_end,
                    source_cidr=rule.get("source"),
                    dest_cidr=rule.get("destination"),
                    priority=int(rule.get("priority", 500)),
                    comment=rule.get("comment"),
                )
            )
        return hv.NWFilterSpec(
            name=name,
            rules=rules,
            default_policy=net.get("default_policy", "accept"),
            allow_dhcp=True,
        )

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
        domain_xml = self.conn.domains.xml(self.job.vm_name)
        for nic in plan.interfaces:
            if nic["mac"] in domain_xml.lower():
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
        import time

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
            f"The guest does not see NIC(s) {', '.join(missing)} {timeout:.0f} s after they were attached.",
            check="/network_configuration/interfaces",
        )

    # ----------------------------------------------------------------- 7 resources

    def tunables(self) -> tuple[hv.Tunables, hv.DiskIoTune | None]:
        res = self.document["resource_allocation"]
        limits = res.get("limits") or {}
        vcpus = int(res["vcpus"])
        t = hv.Tunables(
            cpu_shares=limits.get("cpu_shares"),
            memory_hard_limit_mib=limits.get("memory_hard_limit_mib"),
        )
        if limits.get("cpu_quota_percent"):
            t.cpu_period = 100000
            t.cpu_quota = max(1000, int(100000 * limits["cpu_quota_percent"] / 100 / vcpus))
        elif limits.get("cpu_period_us"):
            t.cpu_period = int(limits["cpu_period_us"])
            t.cpu_quota = max(1000, int(limits["cpu_quota_us"] / vcpus))
        iops = limits.get("disk_iops") or {}
        bw = limits.get("disk_bandwidth_mbps") or {}
        tune = None
        if iops or bw:
            mib = 1024 * 1024
            tune = hv.DiskIoTune(
                total_iops_sec=iops.get("total"),
                read_iops_sec=iops.get("read"),
                write_iops_sec=iops.get("write"),
                total_bytes_sec=int(bw["total"] * mib) if bw.get("total") else None,
                read_bytes_sec=int(bw["read"] * mib) if bw.get("read") else None,
                write_bytes_sec=int(bw["write"] * mib) if bw.get("write") else None,
            )
        return t, tune

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

    def libvirt_checks(self) -> list[Check]:
        """What libvirt reports for the domain, against the VPPD."""
        doc, plan, name = self.document, self.plan, self.job.vm_name
        spec = self.conn.domains.spec(name)
        info = self.conn.domains.lookup(name)
        res = doc["resource_allocation"]
        checks = [
            Check(
                "resources",
                "/resource_allocation/vcpus",
                "vCPUs",
                str(res["vcpus"]),
                str(spec.vcpus),
                spec.vcpus == int(res["vcpus"]),
            ),
            Check(
                "resources",
                "/resource_allocation/memory_mib",
                "memory (MiB)",
                str(res["memory_mib"]),
                str(spec.memory_mib),
                spec.memory_mib == int(res["memory_mib"]),
            ),
            Check(
                "base_image",
                "/base_image_id",
                "domain running",
                "running",
                info.state.value,
                info.state.value == "running",
            ),
        ]
        meta = info.metadata
        checks.append(
            Check(
                "base_image",
                "/",
                "profile metadata on the domain",
                f"{self.version.label} {self.version.content_hash[:12]}",
                f"{meta.profile}@{meta.profile_version} {(meta.content_hash or '')[:12]}"
                if meta
                else "none",
                bool(
                    meta
                    and meta.profile == self.version.policy.name
                    and meta.profile_version == self.version.number
                    and meta.content_hash == self.version.content_hash
                ),
            )
        )
        root = next((d for d in spec.disks if d.target == "vda"), None)
        root_info = None
        if root is not None:
            try:
                root_info = (
                    self.conn.storage.volume_info_by_path(root.path)
                    if root.path
                    else self.conn.storage.volume_info(plan.pool, plan.root_volume)
                )
            except hv.HypervisorError:
                root_info = None
        location = BaseImageLocation.objects.filter(
            image=self.image, platform=self.job.platform
        ).first()
        checks.append(
            Check(
                "base_image",
                "/base_image_id",
                f"root disk backed by {self.image.image_id}",
                location.path if location else "?",
                (root_info.backing_path if root_info else None) or "none",
                bool(root_info and location and root_info.backing_path == location.path),
            )
        )
        # Tunables as libvirt enforces them now.
        tunables, tune = self.tunables()
        live = self.conn.domains.tunables(name)
        if tunables.cpu_shares is not None:
            checks.append(
                Check(
                    "resources",
                    "/resource_allocation/limits/cpu_shares",
                    "CPU shares",
                    str(tunables.cpu_shares),
                    str(live.cpu_shares),
                    live.cpu_shares == tunables.cpu_shares,
                )
            )
        if tunables.cpu_quota is not None:
            checks.append(
                Check(
                    "resources",
                    "/resource_allocation/limits",
                    "CPU quota per vCPU (µs per period)",
                    f"{tunables.cpu_quota}/{tunables.cpu_period}",
                    f"{live.cpu_quota}/{live.cpu_period}",
                    live.cpu_quota == tunables.cpu_quota and live.cpu_period == tunables.cpu_period,
                )
            )
        if tunables.memory_hard_limit_mib is not None:
            checks.append(
                Check(
                    "resources",
                    "/resource_allocation/limits/memory_hard_limit_mib",
                    "memory hard limit (MiB)",
                    str(tunables.memory_hard_limit_mib),
                    str(live.memory_hard_limit_mib),
                    live.memory_hard_limit_mib == tunables.memory_hard_limit_mib,
                )
            )
        if tune is not None:
            want = {k: v for k, v in tune.to_dict().items() if v is not None}
            for disk in spec.disks:
                if disk.device != "disk":
                    continue
                got = self.conn.domains.disk_iotune(name, disk.target).to_dict()
                checks.append(
                    Check(
                        "resources",
                        "/resource_allocation/limits",
                        f"disk {disk.target} I/O limits",
                        _check_str(want),
                        _check_str({k: got.get(k) for k in want}),
                        all(got.get(k) == v for k, v in want.items()),
                    )
                )
        # Volumes: attached, encrypted as asked.
        for vol in plan.volumes:
            try:
                vinfo = self.conn.storage.volume_info(plan.pool, vol["volume"])
            except hv.HypervisorError:
                checks.append(
                    Check(
                        "data_volumes",
                        vol["pointer"],
                        f"volume {vol['name']} exists",
                        "present",
                        "missing",
                        False,
                    )
                )
                continue
            attached = any(d.path == vinfo.path for d in spec.disks)
            checks.append(
                Check(
                    "data_volumes",
                    vol["pointer"],
                    f"volume {vol['name']} attached",
                    "attached",
                    "attached" if attached else "not attached",
                    attached,
                )
            )
            checks.append(
                Check(
                    "data_volumes",
                    f"{vol['pointer']}/size_gib",
                    f"volume {vol['name']} size (bytes)",
                    str(vol["size_bytes"]),
                    str(vinfo.capacity_bytes),
                    vinfo.capacity_bytes >= vol["size_bytes"],
                )
            )
            want_enc = "luks" if vol["encrypted"] else "none"
            got_enc = (vinfo.encryption_format or "luks") if vinfo.encrypted else "none"
            secret_ok = True
            if vol["encrypted"]:
                secret_ok = bool(
                    vinfo.secret_uuid and self.conn.storage.secret_exists(vinfo.secret_uuid)
                )
            checks.append(
                Check(
                    "data_volumes",
                    f"{vol['pointer']}/encryption",
                    f"volume {vol['name']} encryption",
                    want_enc,
                    got_enc + ("" if secret_ok else " (secret missing)"),
                    want_enc == got_enc and secret_ok,
                )
            )
        # Interfaces: network, MAC, model, filter.
        for nic in plan.interfaces:
            iface = next((i for i in spec.interfaces if (i.mac or "").lower() == nic["mac"]), None)
            checks.append(
                Check(
                    "network",
                    nic["pointer"],
                    f"NIC {nic['mac']} on {nic['network']}",
                    f"{nic['network']} {nic['model']} filter={plan.filter_name}",
                    f"{iface.network} {iface.model} filter={iface.filter}" if iface else "absent",
                    bool(
                        iface
                        and iface.network == nic["network"]
                        and iface.model == nic["model"]
                        and iface.filter == plan.filter_name
                    ),
                )
            )
        if plan.filter_name:
            try:
                defined = self.conn.nwfilters.lookup(plan.filter_name)
                want_rules = len(self.firewall_spec().rules)
                checks.append(
                    Check(
                        "network",
                        "/network_configuration/firewall_rules",
                        f"firewall filter {plan.filter_name}",
                        f"{want_rules} rule(s)",
                        f"{len(defined.rules)} rule(s)",
                        len(defined.rules) == want_rules,
                    )
                )
            except hv.HypervisorError as exc:
                checks.append(
                    Check(
                        "network",
                        "/network_configuration/firewall_rules",
                        f"firewall filter {plan.filter_name}",
                        "defined",
                        f"missing: {exc}",
                        False,
                    )
                )
        return checks

    def step_verify(self) -> str:
        self.load_state()
        checks = self.libvirt_checks()
        guest_checks = self.guest_call(
            self.guest().verify,
            self.document,
            devices=self.devices(),
            macs=[n["mac"] for n in self.plan.interfaces],
        )
        for gc in guest_checks:
            checks.append(
                Check(
                    gc.section,
                    gc.pointer,
                    gc.name,
                    gc.expected,
                    gc.actual,
                    gc.passed,
                    source=gc.source or "guest",
                    detail=gc.detail,
                )
            )
        VerificationCheck.objects.filter(job=self.job).delete()
        for index, c in enumerate(checks):
            VerificationCheck.objects.create(
                job=self.job,
                index=index,
                section=c.section,
                pointer=c.pointer,
                name=c.name,
                source=c.source,
                expected=c.expected[:4000],
                actual=c.actual[:4000],
                passed=c.passed,
                detail=c.detail[:4000],
            )
            event_services.job_event(
                job=self.job,
                kind="check",
                index=index,
                section=c.section,
                pointer=c.pointer,
                name=c.name,
                source=c.source,
                expected=c.expected[:500],
                actual=c.actual[:500],
                passed=c.passed,
                detail=c.detail[:500],
            )
        failed = [c for c in checks if not c.passed]
        summary = {
            "checks": len(checks),
            "passed": len(checks) - len(failed),
            "failed": len(failed),
        }
        self.job.result = {**(self.job.result or {}), "verification": summary}
        OperationJob.objects.filter(pk=self.job.pk).update(result=self.job.result)
        event_services.job_event(job=self.job, kind="result", **summary)
        if failed:
            first = failed[0]
            raise StepFailed(
                f"Verification failed: {len(failed)} of {len(checks)} checks did not pass.",
                check=f"{first.pointer or first.section}: {first.name} (expected {first.expected}, got {first.actual})",
            )
        return f"{len(checks)} checks passed"

    # ----------------------------------------------------------------- outcome

    def on_success(self) -> None:
        super().on_success()
        vm = self._record_vm(VMState.RUNNING)
        self.job.result = {**(self.job.result or {}), "vm_id": vm.pk}

    def rollback(self) -> list[str]:
        self.close()  # rollback opens its own connections
        leftovers = super().rollback()
        if not leftovers and self.job.vm_id:
            ManagedVM.objects.filter(pk=self.job.vm_id).update(state=VMState.GONE)
        return leftovers

    def success_message(self) -> str:
        summary = (self.job.result or {}).get("verification", {})
        return (
            f"{self.job.vm_name} cloned from {self.version.label} on {self.job.platform.name} "
            f"and verified ({summary.get('passed', '?')}/{summary.get('checks', '?')} checks)."
        )


__all__ = ["CloneRunner", "stable_mac"]
