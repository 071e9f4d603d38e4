"""Verification of a provisioned VM: the facts read from libvirt, and the checks recorded.

What is compared lives in ``operations_app.verification`` (pure); this module reads the
domain into ``LibvirtFacts`` and writes the outcome (``VerificationCheck`` rows, a
``check`` event per check, the summary on the job and a ``result`` event).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from operations_app import hypervisor as hv
from operations_app.models import BaseImage, BaseImageLocation, OperationJob, VerificationCheck
from operations_app.placement import Plan
from operations_app.services import events as event_services
from operations_app.services import jobs as job_services
from operations_app.verification import Check, LibvirtFacts
from profiles_app.models import PolicyVersion


def verification_libvirt_facts(
    *,
    conn: hv.Hypervisor,
    job: OperationJob,
    version: PolicyVersion,
    document: dict[str, Any],
    image: BaseImage,
    plan: Plan,
    tunables: hv.Tunables,
    disk_iotune: hv.DiskIoTune | None,
    firewall_rules: list[hv.FirewallRule],
) -> LibvirtFacts:
    """What the plan expects and what libvirt reports for the job's domain."""
    name = job.vm_name
    spec = conn.domains.spec(name)
    info = conn.domains.lookup(name)
    root = next((d for d in spec.disks if d.target == "vda"), None)
    root_info = None
    if root is not None:
        try:
            root_info = (
                conn.storage.volume_info_by_path(root.path)
                if root.path
                else conn.storage.volume_info(plan.pool, plan.root_volume)
            )
        except hv.HypervisorError:
            root_info = None
    location = BaseImageLocation.objects.filter(image=image, platform=job.platform).first()
    res = document["resource_allocation"]
    facts = LibvirtFacts(
        vcpus=res["vcpus"],
        memory_mib=res["memory_mib"],
        profile=version.policy.name,
        profile_version=version.number,
        content_hash=version.content_hash,
        label=version.label,
        image_id=image.image_id,
        base_image_path=location.path if location else None,
        tunables=tunables,
        disk_iotune=disk_iotune,
        volumes=plan.volumes,
        interfaces=plan.interfaces,
        filter_name=plan.filter_name,
        firewall_rules=firewall_rules,
        spec=spec,
        info=info,
        root_backing=root_info.backing_path if root_info else None,
        live=conn.domains.tunables(name),
    )
    if disk_iotune is not None:
        for disk in spec.disks:
            if disk.device == "disk":
                facts.disk_iotunes[disk.target] = conn.domains.disk_iotune(
                    name, disk.target
                ).to_dict()
    for vol in plan.volumes:
        try:
            vinfo = conn.storage.volume_info(plan.pool, vol["volume"])
        except hv.HypervisorError:
            facts.volume_infos[vol["volume"]] = None
            continue
        facts.volume_infos[vol["volume"]] = vinfo
        if vol["encrypted"]:
            facts.volume_secrets[vol["volume"]] = bool(
                vinfo.secret_uuid and conn.storage.secret_exists(vinfo.secret_uuid)
            )
    if plan.filter_name:
        try:
            facts.filter_rules = conn.nwfilters.lookup(plan.filter_name).rules
        except hv.HypervisorError as exc:
            facts.filter_error = str(exc)
    return facts


@transaction.atomic
def verification_record(*, job: OperationJob, checks: list[Check]) -> dict[str, int]:
    """Replace the job's verification checks with ``checks`` (one event each), put the
    summary on the job and announce it. Returns the summary."""
    VerificationCheck.objects.filter(job=job).delete()
    for index, c in enumerate(checks):
        VerificationCheck.objects.create(
            job=job,
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
            job=job,
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
    summary = {"checks": len(checks), "passed": len(checks) - len(failed), "failed": len(failed)}
    job_services.job_result_update(job=job, verification=summary)
    event_services.job_event(job=job, kind="result", **summary)
    return summary
