"""Reading advisories, and what each platform and VM is exposed to, in a fixed number
of queries (the affected entries of the packages the fleet has, and the CVSS scores of
the CVEs whose own feed gives none)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db.models import Q, QuerySet
from packaging.utils import canonicalize_name

from operations_app.advisories.exposure import (
    AdvisoryIndex,
    Exposure,
    Package,
    platform_packages,
    profile_packages,
)
from operations_app.models import Advisory, AdvisoryAffected, ManagedVM, Platform, VMState


def advisory_list(*, search: str = "", package: str = "", source: str = "") -> QuerySet[Advisory]:
    rows = Advisory.objects.prefetch_related("affected")
    if search:
        rows = rows.filter(
            Q(advisory_id__icontains=search)
            | Q(cve__icontains=search)
            | Q(summary__icontains=search)
            | Q(affected__package__iexact=search)
        ).distinct()
    if package:
        rows = rows.filter(affected__package__iexact=package).distinct()
    if source:
        rows = rows.filter(source=source)
    return rows


def advisory_get(advisory_id: str) -> list[Advisory]:
    """Every feed's record of ``advisory_id`` (an id, or the CVE they are about)."""
    return list(
        Advisory.objects.prefetch_related("affected")
        .filter(Q(advisory_id=advisory_id) | Q(cve=advisory_id))
        .order_by("source", "advisory_id")
    )


def _name_variants(packages: Iterable[Package]) -> set[str]:
    names: set[str] = set()
    for p in packages:
        names.update({p.name, p.name.lower(), canonicalize_name(p.name)})
        names.update({p.name.replace("-", "_"), p.name.lower().replace("_", "-")})
    return names


def advisory_index(packages: Sequence[Package]) -> AdvisoryIndex:
    """The affected entries naming ``packages`` (two queries whatever their number)."""
    # Both queries run whatever the packages (an empty list would skip them): the
    # fleet snapshot's number of queries does not depend on the fleet.
    names = _name_variants(packages) or {""}
    affected = AdvisoryAffected.objects.filter(package__in=sorted(names))
    rows = list(
        affected.values_list(
            "advisory__advisory_id",
            "advisory__cve",
            "advisory__cvss",
            "ecosystem",
            "package",
            "ranges",
            "versions",
        ).order_by("advisory__advisory_id", "pk")
    )
    # the scores other feeds give the CVEs these entries are about (the tracker gives none)
    scores: dict[str, float] = {}
    for cve, cvss in Advisory.objects.filter(
        cve__in=affected.filter(advisory__cvss__isnull=True).values("advisory__cve"),
        cvss__isnull=False,
    ).values_list("cve", "cvss"):
        if cvss is not None:
            scores[cve] = max(scores.get(cve, 0.0), float(cvss))
    return AdvisoryIndex(
        (
            (ident, cve, cvss, {"ecosystem": eco, "package": pkg, "ranges": rng, "versions": ver})
            for ident, cve, cvss, eco, pkg, rng, ver in rows
        ),
        scores,
    )


def _platform_packages(platform: Platform) -> list[Package]:
    try:
        return platform_packages(
            capabilities=platform.capabilities or {}, facts=platform.host_facts or {}
        )
    except ValueError:
        return []  # an unknown release: nothing is matched rather than guessed


def _document_packages(document: Mapping[str, Any] | None) -> list[Package]:
    return profile_packages(document or {})[0]


def exposures(
    platforms: Iterable[Platform], documents: Mapping[Any, Mapping[str, Any] | None]
) -> tuple[dict[str, list[Exposure]], dict[Any, list[Exposure]]]:
    """Each platform's exposures (by name) and each profile document's (by the key
    given), matched in one pass."""
    by_platform = {p.name: _platform_packages(p) for p in platforms}
    by_document = {key: _document_packages(doc) for key, doc in documents.items()}
    index = advisory_index([p for ps in (*by_platform.values(), *by_document.values()) for p in ps])
    return (
        {name: index.match(ps) for name, ps in by_platform.items()},
        {key: index.match(ps) for key, ps in by_document.items()},
    )


def fleet_exposure() -> dict[str, Any]:
    """The page's view: every platform's exposures, every VM's (its platform's and its
    profile's own), by advisory."""
    platforms = list(Platform.objects.order_by("name"))
    vms = list(
        ManagedVM.objects.exclude(state=VMState.GONE)
        .select_related("platform", "profile_version__policy")
        .order_by("name")
    )
    documents = {
        v.profile_version_id: v.profile_version.document
        for v in vms
        if v.profile_version is not None
    }
    host, own = exposures(platforms, documents)
    by_advisory: dict[str, dict[str, Any]] = {}

    def entry(e: Exposure) -> dict[str, Any]:
        return by_advisory.setdefault(
            e.advisory, {"cvss": e.cvss, "ids": set(e.ids), "platforms": [], "vms": []}
        )

    for name, items in host.items():
        for e in items:
            entry(e)["platforms"].append({"name": name, "package": e.package, "version": e.version})
    for vm in vms:
        for e in host.get(vm.platform.name, []):
            entry(e)["vms"].append({"name": vm.name, "via": f"platform {vm.platform.name}"})
        if vm.profile_version is None:
            continue
        for e in own.get(vm.profile_version_id, []):
            entry(e)["vms"].append(
                {"name": vm.name, "via": f"{e.origin} {e.version} ({vm.profile_version.label})"}
            )
    for item in by_advisory.values():
        item["ids"] = sorted(item["ids"])
    return {"platforms": host, "by_advisory": by_advisory}
