from operations_app.models.inventory import ManagedVM, VMMetricSample, VMState
from operations_app.models.platforms import (
    BaseImage,
    BaseImageLocation,
    KvmPolicy,
    Platform,
    PlatformStatus,
)

__all__ = [
    "BaseImage",
    "BaseImageLocation",
    "KvmPolicy",
    "ManagedVM",
    "Platform",
    "PlatformStatus",
    "VMMetricSample",
    "VMState",
]
