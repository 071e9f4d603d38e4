"""Snapshots as ``hv.snapshots`` reports them."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._serde import JsonMixin
from .domains import DomainMetadata


@dataclass
class SnapshotDisk(JsonMixin):
    name: str
    snapshot: str
    file: str | None = None


@dataclass
class SnapshotInfo(JsonMixin):
    name: str
    domain: str
    creation_time: int
    state: str
    kind: str
    has_memory: bool
    parent: str | None = None
    current: bool = False
    description: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    domain_metadata: DomainMetadata | None = None
    disks: list[SnapshotDisk] = field(default_factory=list)
