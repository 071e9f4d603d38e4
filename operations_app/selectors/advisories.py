"""Reading advisories, and what each platform and VM is exposed to, in a fixed number
of queries (the affected entries of the packages the fleet has, and the CVSS scores of
the CVEs whose own feed gives none)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from packaging.utils import canonicalize_name

from operations_app.advisories.exposure import (
    AdvisoryIndex,
    Exposure,
    OlderQemu,
    Package,
    older_qemu,
    platform_packages,
    profile_packages,
)
from operations_app.models import (
    Advisory,
    AdvisoryAffected,
    AdvisoryFeed,
    ManagedVM,
    Platform,
    VMState,
)


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
    host, own, _ = fleet_exposures(platforms, documents, ())
    return host, own


def vm_older_qemu(vm: ManagedVM) -> OlderQemu | None:
    """The VM's running QEMU when older than its platform's installed one (no query)."""
    if vm.state != VMState.RUNNING:
        return None
    platform = vm.platform
    return older_qemu(
        vm.running_qemu, capabilities=platform.capabilities or {}, facts=platform.host_facts or {}
    )


def fleet_exposures(
    platforms: Iterable[Platform],
    documents: Mapping[Any, Mapping[str, Any] | None],
    vms: Iterable[ManagedVM],
) -> tuple[
    dict[str, list[Exposure]],
    dict[Any, list[Exposure]],
    dict[str, tuple[OlderQemu, list[Exposure]]],
]:
    """``exposures``, and for each VM (by name) whose running QEMU is older than its
    platform's installed one: that QEMU, and the advisories it is exposed to that its
    platform is not (what a restart or a move fixes). One pass, the same queries."""
    platforms, vms = list(platforms), list(vms)
    by_platform = {p.name: _platform_packages(p) for p in platforms}
    by_document = {key: _document_packages(doc) for key, doc in documents.items()}
    older = {vm.name: o for vm in vms if (o := vm_older_qemu(vm)) is not None}
    index = advisory_index(
        [
            *(p for ps in (*by_platform.values(), *by_document.values()) for p in ps),
            *(o.package for o in older.values()),
        ]
    )
    host = {name: index.match(ps) for name, ps in by_platform.items()}
    platform_of = {vm.name: vm.platform.name for vm in vms if vm.name in older}
    qemu: dict[str, tuple[OlderQemu, list[Exposure]]] = {}
    for name, o in older.items():
        there = {e.advisory for e in host.get(platform_of[name], [])}
        qemu[name] = (o, [e for e in index.match([o.package]) if e.advisory not in there])
    return host, {key: index.match(ps) for key, ps in by_document.items()}, qemu


def vm_qemu_exposure(vm: ManagedVM) -> dict[str, Any] | None:
    """The VM page's and the API's view of an older running QEMU: the versions and the
    advisories a restart or a move fixes; None when it runs the installed one."""
    o = vm_older_qemu(vm)
    if o is None:
        return None
    _, _, qemu = fleet_exposures([vm.platform], {}, [vm])
    fixed = qemu.get(vm.name, (o, []))[1]
    return {
        **o.to_dict(),
        "advisories": [{"advisory": e.advisory, "cvss": e.cvss} for e in fixed],
    }


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
    host, own, qemu = fleet_exposures(platforms, documents, vms)
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
        older, stale = qemu.get(vm.name, (None, []))
        for e in stale:
            entry(e)["vms"].append(
                {
                    "name": vm.name,
                    "via": f"running QEMU {older.running if older else ''} "
                    f"(installed {older.installed if older else ''})",
                }
            )
        if vm.profile_version is None:
            continue
        for e in own.get(vm.profile_version_id, []):
            entry(e)["vms"].append(
                {"name": vm.name, "via": f"{e.origin} {e.version} ({vm.profile_version.label})"}
            )
    for item in by_advisory.values():
        item["ids"] = sorted(item["ids"])
    return {"platforms": host, "by_advisory": by_advisory}


def advisory_feed_list() -> list[dict[str, Any]]:
    """The feeds of ``VMPERSONA_ADVISORY_FEEDS``, in that order, with their last
    imports (a feed never tried yet has none) and when the next is due."""
    urls = list(dict.fromkeys(settings.VMPERSONA_ADVISORY_FEEDS))
    every = timedelta(hours=settings.VMPERSONA_ADVISORY_FEED_HOURS)
    rows = {f.url: f for f in AdvisoryFeed.objects.filter(url__in=urls)}
    feeds = []
    for url in urls:
        feed = rows.get(url) or AdvisoryFeed(url=url)
        feeds.append(
            {
                "url": url,
                "last_attempt_at": feed.last_attempt_at,
                "last_success_at": feed.last_success_at,
                "last_failure_at": feed.last_failure_at,
                "last_error": feed.last_error,
                "last_counts": feed.last_counts or {},
                "failures": feed.failures,
                "next_at": feed.last_attempt_at + every if feed.last_attempt_at else None,
            }
        )
    return feeds
