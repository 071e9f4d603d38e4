"""Reading and editing domain XML documents as libvirt returns them.

``domainxml`` builds definitions from a ``DomainSpec`` and reads them back; the
functions here work on a document libvirt produced (e.g. a migratable definition) and
keep everything in it they do not touch: the secrets and pools a migration's
destination XML needs, the emulator a definition pins, the PCI addresses it carries, and
a re-indented form for showing diffs. Raise ``InvalidSpec`` for XML that cannot be read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ._xml import parse, to_string
from .domainxml import parse_domain_element
from .types import DomainSpec


def swap_secrets(xml: str, secrets: dict[str, str]) -> str:
    """The domain XML with each disk encryption secret UUID replaced by its target's."""
    if not secrets:
        return xml
    root = parse(xml, what="domain XML")
    for secret in root.findall("devices/disk/encryption/secret"):
        old = secret.get("uuid")
        if old in secrets:
            secret.set("uuid", secrets[old])
    for secret in root.findall("devices/disk/source/encryption/secret"):
        old = secret.get("uuid")
        if old in secrets:
            secret.set("uuid", secrets[old])
    return to_string(root)


def swap_pools(xml: str, pools: dict[str, str]) -> str:
    """The domain XML with each volume disk's pool renamed (source pool -> target pool)."""
    pools = {old: new for old, new in pools.items() if old and new and old != new}
    if not pools:
        return xml
    root = parse(xml, what="domain XML")
    for source in root.findall("devices/disk/source"):
        pool = source.get("pool")
        if source.get("volume") and pool in pools:
            source.set("pool", pools[pool])
    return to_string(root)


def parse_domain_definition(xml: str) -> tuple[DomainSpec, str | None]:
    """A domain XML document as a ``DomainSpec`` (read as ``parse_domain_xml`` does)
    and the emulator the definition pins (None when it pins none)."""
    root = parse(xml, what="domain XML")
    spec = parse_domain_element(root)
    emulator = (root.findtext("devices/emulator") or "").strip() or None
    return spec, emulator


def pci_address_count(xml: str) -> int:
    """How many devices of a domain XML document carry an explicit PCI address."""
    root = parse(xml, what="domain XML")
    return len(root.findall("devices/*/address[@type='pci']"))


def pretty_lines(xml: str, *, what: str = "domain XML") -> list[str]:
    """The XML document re-indented (two spaces), one line per element, for diffs."""
    root = parse(xml, what=what)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode").splitlines()
