from profiles_app.models.keys import VolumeKey
from profiles_app.models.policy import (
    EDITABLE_STATUSES,
    FINAL_STATUSES,
    REVIEWABLE_STATUSES,
    Policy,
    PolicyKind,
    PolicyVersion,
    VersionStatus,
)

__all__ = [
    "EDITABLE_STATUSES",
    "FINAL_STATUSES",
    "REVIEWABLE_STATUSES",
    "Policy",
    "PolicyKind",
    "PolicyVersion",
    "VersionStatus",
    "VolumeKey",
]
