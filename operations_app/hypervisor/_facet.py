"""Base class of the per-topic parts of a ``Hypervisor`` (domains, storage, ...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import libvirt

if TYPE_CHECKING:
    from .connection import Hypervisor

T = TypeVar("T")


class Facet:
    def __init__(self, hv: Hypervisor) -> None:
        self._hv = hv

    def _call(self, operation: str, fn: Callable[[libvirt.virConnect], T]) -> T:
        return self._hv._call(operation, fn)

    @property
    def _timeout(self) -> float:
        return self._hv.timeout
