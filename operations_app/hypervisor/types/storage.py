"""Storage pools and volumes as ``hv.storage`` reports them."""

from __future__ import annotations

from dataclasses import dataclass

from .._serde import JsonMixin


@dataclass
class PoolInfo(JsonMixin):
    name: str
    type: str
    path: str | None
    active: bool
    autostart: bool = False
    persistent: bool = True
    uuid: str | None = None
    capacity_bytes: int = 0
    allocation_bytes: int = 0
    available_bytes: int = 0


@dataclass
class VolumeInfo(JsonMixin):
    name: str
    pool: str | None
    path: str
    key: str | None = None
    format: str | None = None
    capacity_bytes: int = 0
    allocation_bytes: int = 0
    encrypted: bool = False
    encryption_format: str | None = None
    secret_uuid: str | None = None
    backing_path: str | None = None
    backing_format: str | None = None
