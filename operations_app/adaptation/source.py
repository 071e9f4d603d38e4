"""Reading the domain to adapt, and showing what adaptation changed in its XML."""

from __future__ import annotations

import copy
import difflib

from operations_app.hypervisor.domainedit import (
    parse_domain_definition,
    pci_address_count,
    pretty_lines,
)
from operations_app.hypervisor.types import DomainSpec

from .differences import DomainState


def domain_state(domain: DomainSpec | str) -> DomainState:
    """A private copy of the domain to adapt (the caller's object is never touched).

    From libvirt's XML the ``DomainSpec`` is read as ``parse_domain_xml`` does, plus the
    emulator the definition pins. Device addresses are not carried over: a definition
    built from the spec lets libvirt assign them, as a new machine type needs.
    Raises ``InvalidSpec`` for XML that is not a domain.
    """
    if isinstance(domain, DomainSpec):
        return DomainState(spec=copy.deepcopy(domain))
    spec, emulator = parse_domain_definition(domain)
    return DomainState(spec=spec, emulator=emulator)


def pci_addresses(domain: DomainSpec | str) -> int:
    """How many devices of a domain XML carry an explicit PCI address (0 for a spec)."""
    if isinstance(domain, DomainSpec):
        return 0
    return pci_address_count(domain)


def domain_diff(
    before_xml: str, after_xml: str, *, before: str = "source", after: str = "target"
) -> list[str]:
    """Unified diff lines (no line ends) between two domain XML documents, both
    re-indented first so that only real changes show. Empty when they are the same.
    Raises ``InvalidSpec`` when either is not well-formed XML."""
    return [
        line.rstrip("\n")
        for line in difflib.unified_diff(
            pretty_lines(before_xml, what="the first domain XML"),
            pretty_lines(after_xml, what="the second domain XML"),
            fromfile=before,
            tofile=after,
            lineterm="",
        )
    ]
