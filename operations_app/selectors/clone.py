"""Which profile versions a clone can start from.

Only VPPD profiles are cloned, so every lookup by profile name is within that kind (a
scheduling policy may have the same name). Whether a version may be cloned is the
clone service's decision.
"""

from __future__ import annotations

from django.db.models import QuerySet

from profiles_app.models import PolicyKind, PolicyVersion, VersionStatus
from vmpersona.errors import StateConflict, field_error


def approved_versions() -> QuerySet[PolicyVersion]:
    """Every approved VPPD version, by profile name and newest first (the clone form's choices)."""
    return (
        PolicyVersion.objects.filter(status=VersionStatus.APPROVED, policy__kind=PolicyKind.VPPD)
        .select_related("policy")
        .order_by("policy__name", "-number")
    )


def _versions(profile: str) -> QuerySet[PolicyVersion]:
    return PolicyVersion.objects.select_related("policy").filter(
        policy__kind=PolicyKind.VPPD, policy__name=profile
    )


def profile_version(*, profile: str, number: int | None = None) -> PolicyVersion | None:
    """The profile's version ``number``, or its approved version; None when it has none."""
    versions = _versions(profile)
    if number is not None:
        return versions.filter(number=number).first()
    return versions.filter(status=VersionStatus.APPROVED).first()


def clone_source(*, profile: str, number: int | None = None) -> PolicyVersion:
    """The version a clone request names: ``number``, or the profile's approved version.

    An unknown profile or version is invalid input (its path: ``profile``, ``version``);
    a profile without an approved version is a ``StateConflict``.
    """
    if not _versions(profile).exists():
        raise field_error("profile", f"no profile named '{profile}'")
    version = profile_version(profile=profile, number=number)
    if version is None and number is not None:
        raise field_error("version", f"{profile} has no version {number}")
    if version is None:
        raise StateConflict(f"Profile {profile} has no approved version to clone.")
    return version
