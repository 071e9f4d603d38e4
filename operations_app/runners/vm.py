"""What the runners that work on a VM provisioned from a profile version share.

``VMRunner`` defines no steps of its own but the verification every such job ends with;
it holds the job's profile version, provisioning plan and base image, the connection to
``job.platform``, and the helpers the steps use (resource tracking, the guest session,
the firewall and tunables a profile asks for, the guest's device names). ``CloneRunner``
and ``MigrateRunner`` build their own steps on it.
"""

from __future__ import annotations

import logging

from operations_app import hypervisor as hv
from operations_app.models import BaseImage, OperationJob
from operations_app.placement import Plan
from operations_app.runners.base import Cancelled, Runner, Step, StepFailed
from operations_app.runners.watch import HealthWatch, watch_settings
from operations_app.services import jobs as job_services
from operations_app.services import verification as verification_services
from operations_app.services.platforms import platform_connect
from operations_app.services.resources import resource_track
from operations_app.verification import Check, libvirt_checks
from profiles_app.models import PolicyVersion

logger = logging.getLogger(__name__)


class VMRunner(Runner):
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
        from operations_app.guest import GuestCancelled, GuestStepError

        try:
            return func(*args, **kwargs)
        except (GuestCancelled, hv.OperationAborted) as exc:
            raise Cancelled() from exc  # the job was cancelled: not the guest's failure
        except GuestStepError as exc:
            raise StepFailed(str(exc), check=getattr(exc, "pointer", "")) from exc
        except hv.HypervisorError as exc:
            raise StepFailed(f"The guest could not be reached: {exc}") from exc

    def save_plan(self) -> None:
        self.result_update(plan=self._plan.to_dict() if self._plan else None)

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

    # ----------------------------------------------------------------- profile helpers

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

    # ----------------------------------------------------------------- verify

    def step_verify(self) -> str:
        self.load_state()
        tunables, tune = self.tunables()
        facts = verification_services.verification_libvirt_facts(
            conn=self.conn,
            job=self.job,
            version=self.version,
            document=self.document,
            image=self.image,
            plan=self.plan,
            tunables=tunables,
            disk_iotune=tune,
            firewall_rules=self.firewall_spec().rules if self.plan.filter_name else [],
        )
        checks = libvirt_checks(facts)
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
        summary = verification_services.verification_record(job=self.job, checks=checks)
        if summary["failed"]:
            first = next(c for c in checks if not c.passed)
            raise StepFailed(
                f"Verification failed: {summary['failed']} of {len(checks)} checks did not pass.",
                check=f"{first.pointer or first.section}: {first.name} (expected {first.expected}, got {first.actual})",
            )
        return f"{len(checks)} checks passed"

    # ----------------------------------------------------------------- watch

    def watch_steps(self) -> list[Step]:
        """The health-watch step, when the job's profile version (or the installation's
        default) asks for a watch."""
        version = self.job.profile_version
        if version is None or watch_settings(version.document).period_s == 0:
            return []
        return [Step("watch", "Watch the VM's health", self.step_watch, 2)]

    def step_watch(self) -> str:
        self.load_state()
        return HealthWatch(self, conn=lambda: self.conn, document=self.document).run()


__all__ = ["VMRunner"]
