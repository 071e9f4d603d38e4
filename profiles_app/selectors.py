"""Reads that pages, API and CLI share; each costs a constant number of queries.

A policy is named by its kind and its name (names are unique per kind), so every
lookup by name takes the kind.
"""

from __future__ import annotations

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery

from profiles_app.models import Policy, PolicyVersion, VersionStatus, VolumeKey
from vmpersona.errors import NotFoundError


class NotFound(NotFoundError):
    pass


def profile_list(
    *, kind: str, search: str = "", status: str = "", flag: str = ""
) -> QuerySet[Policy]:
    approved = PolicyVersion.objects.filter(policy=OuterRef("pk"), status=VersionStatus.APPROVED)
    qs = (
        Policy.objects.filter(kind=kind)
        .select_related("created_by")
        .annotate(
            version_count=Count("versions", distinct=True),
            latest_number=Max("versions__number"),
            approved_number=Subquery(approved.values("number")[:1]),
            pending_count=Count(
                "versions", filter=Q(versions__status=VersionStatus.PENDING), distinct=True
            ),
            draft_count=Count(
                "versions", filter=Q(versions__status=VersionStatus.DRAFT), distinct=True
            ),
            last_change=Max("versions__updated_at"),
        )
        .order_by("name")
    )
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if status:
        qs = qs.filter(versions__status=status).distinct()
    if flag:
        # JSON containment is not portable to SQLite; match the flag in Python-free way
        # through the serialised list instead.
        qs = qs.filter(versions__document__execution_flags__icontains=f'"{flag}"').distinct()
    return qs


def profile_get(*, kind: str, name: str) -> Policy:
    try:
        return Policy.objects.select_related("created_by").get(kind=kind, name=name)
    except Policy.DoesNotExist as exc:
        raise NotFound(f"No profile named '{name}'.") from exc


def version_list(*, policy: Policy) -> QuerySet[PolicyVersion]:
    return (
        PolicyVersion.objects.filter(policy=policy)
        .select_related("author", "reviewer", "parent", "policy")
        .prefetch_related("authors")
        .order_by("-number")
    )


def version_get(*, kind: str, name: str, number: int) -> PolicyVersion:
    if not isinstance(number, int) or not 0 < number < 2**31:
        raise NotFound(f"No version {number} of profile '{name}'.")
    try:
        return (
            PolicyVersion.objects.select_related("policy", "author", "reviewer", "parent")
            .prefetch_related("authors")
            .get(policy__kind=kind, policy__name=name, number=number)
        )
    except (PolicyVersion.DoesNotExist, ValueError) as exc:
        raise NotFound(f"No version {number} of profile '{name}'.") from exc


def version_by_label(label: str, *, kind: str, default_latest: bool = False) -> PolicyVersion:
    """``NAME@N`` to a version; ``NAME`` alone to the approved (or latest) version."""
    if "@" in label:
        name, _, number = label.rpartition("@")
        try:
            return version_get(kind=kind, name=name, number=int(number))
        except ValueError as exc:
            raise NotFound(f"'{label}' is not NAME@NUMBER.") from exc
    policy = profile_get(kind=kind, name=label)
    version = policy.versions.filter(status=VersionStatus.APPROVED).first()
    if version is None and default_latest:
        version = policy.versions.order_by("-number").first()
    if version is None:
        raise NotFound(f"Profile '{label}' has no approved version; name one as {label}@N.")
    return version


def approved_version(*, policy: Policy) -> PolicyVersion | None:
    return policy.versions.filter(status=VersionStatus.APPROVED).first()


def pending_versions() -> QuerySet[PolicyVersion]:
    return (
        PolicyVersion.objects.filter(status=VersionStatus.PENDING)
        .select_related("policy", "author")
        .order_by("submitted_at")
    )


def profile_timeline(*, policy: Policy) -> list[dict]:
    """Every recorded change to the profile and its versions, newest first."""
    versions = PolicyVersion.history.filter(policy_id=policy.pk).select_related("history_user")
    entries = []
    for h in versions:
        entries.append(
            {
                "when": h.history_date,
                "user": h.history_user,
                "type": {"+": "created", "~": "changed", "-": "deleted"}[h.history_type],
                "subject": f"{policy.name}@{h.number}",
                "number": h.number,
                "status": h.status,
                "reason": h.history_change_reason or "",
            }
        )
    for h in Policy.history.filter(id=policy.pk).select_related("history_user"):
        entries.append(
            {
                "when": h.history_date,
                "user": h.history_user,
                "type": {"+": "created", "~": "changed", "-": "deleted"}[h.history_type],
                "subject": policy.name,
                "number": None,
                "status": "",
                "reason": h.history_change_reason or "",
            }
        )
    entries.sort(key=lambda e: e["when"], reverse=True)
    return entries


__all__ = [
    "NotFound",
    "approved_version",
    "pending_versions",
    "profile_get",
    "profile_list",
    "profile_timeline",
    "version_by_label",
    "version_get",
    "version_list",
]


def profile_summary(*, kind: str, name: str) -> Policy:
    """One profile with the counts ``profile_list`` annotates (approved/latest number, ...)."""
    policy = profile_list(kind=kind).filter(name=name).first()
    if policy is None:
        raise NotFound(f"No profile named '{name}'.")
    return policy


def version_history(*, version: PolicyVersion) -> QuerySet:
    """The audit records of one version (by row, so a reused number never mixes), newest first."""
    return (
        PolicyVersion.history.filter(id=version.pk)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")
    )


def volume_key_exists(name: str) -> bool:
    """Whether the key store holds a volume key named ``name``."""
    return VolumeKey.objects.filter(name=name).exists()
