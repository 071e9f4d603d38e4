"""Resource allocation: limits consistent with the vCPUs and memory asked for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from profiles_app.jsondoc.errors import DocumentError, pointer
from profiles_app.vppd.checks.common import as_dict, is_int, is_number


def check_resources(doc: dict, **_: Any) -> Iterator[DocumentError]:
    resources = as_dict(doc.get("resource_allocation"))
    limits = as_dict(resources.get("limits"))
    base = ("resource_allocation", "limits")
    vcpus, memory = resources.get("vcpus"), resources.get("memory_mib")
    hard = limits.get("memory_hard_limit_mib")
    if is_int(hard) and is_int(memory) and hard < memory:
        yield DocumentError(
            pointer((*base, "memory_hard_limit_mib")),
            f"must be at least memory_mib ({memory}); got {hard}",
        )
    percent = limits.get("cpu_quota_percent")
    if is_int(percent) and is_int(vcpus) and percent > 100 * vcpus:
        yield DocumentError(
            pointer((*base, "cpu_quota_percent")),
            f"must be at most {100 * vcpus} (100 per vCPU, {vcpus} vCPUs); got {percent}",
        )
    period, quota = limits.get("cpu_period_us"), limits.get("cpu_quota_us")
    if is_int(period) and is_int(quota) and is_int(vcpus) and quota > period * vcpus:
        yield DocumentError(
            pointer((*base, "cpu_quota_us")),
            f"must be at most cpu_period_us x vcpus ({period * vcpus}); got {quota}",
        )
    storage = resources.get("storage_gib")
    if is_number(storage) and not storage > 0:
        yield DocumentError(
            pointer(("resource_allocation", "storage_gib")), "must be greater than 0"
        )
