"""Hot-plugging a domain's devices: attach and detach disks and interfaces, live and in
its persistent config.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

import libvirt

from .._facet import Facet
from .._xml import attr, parse
from ..domainxml import disk_xml, interface_xml
from ..errors import NotFound
from ..types import DiskSpec, InterfaceSpec
from ..validation import check_mac, check_target_dev
from ._common import affect_flags


class DomainDevices(Facet):
    """Attach and detach disks and interfaces."""

    def attach_disk(
        self, name: str, disk: DiskSpec, *, live: bool = True, config: bool = True
    ) -> None:
        xml = disk_xml(disk)
        self._call(
            f"attach disk {disk.target} to domain {name!r}",
            lambda c: self._attach(c.lookupByName(name), xml, live, config),
        )

    def detach_disk(
        self, name: str, target: str, *, live: bool = True, config: bool = True
    ) -> None:
        check_target_dev(target)

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(name)
            xml = self._device_xml(
                dom,
                "disk",
                lambda e: attr(e, "target", "dev") == target,
            )
            if xml is None:
                raise NotFound(f"Domain {name!r} has no disk {target}")
            self._detach(dom, xml, live, config)

        self._call(f"detach disk {target} from domain {name!r}", run)

    def attach_interface(
        self, name: str, nic: InterfaceSpec, *, live: bool = True, config: bool = True
    ) -> None:
        xml = interface_xml(nic)
        self._call(
            f"attach an interface on {nic.network!r} to domain {name!r}",
            lambda c: self._attach(c.lookupByName(name), xml, live, config),
        )

    def detach_interface(
        self, name: str, mac: str, *, live: bool = True, config: bool = True
    ) -> None:
        mac = check_mac(mac)

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(name)
            xml = self._device_xml(
                dom,
                "interface",
                lambda e: (attr(e, "mac", "address") or "").lower() == mac,
            )
            if xml is None:
                raise NotFound(f"Domain {name!r} has no interface with MAC {mac}")
            self._detach(dom, xml, live, config)

        self._call(f"detach interface {mac} from domain {name!r}", run)

    @staticmethod
    def _attach(dom: libvirt.virDomain, xml: str, live: bool, config: bool) -> None:
        dom.attachDeviceFlags(xml, affect_flags(dom, live=live, config=config))

    @staticmethod
    def _detach(dom: libvirt.virDomain, xml: str, live: bool, config: bool) -> None:
        dom.detachDeviceFlags(xml, affect_flags(dom, live=live, config=config))

    @staticmethod
    def _device_xml(
        dom: libvirt.virDomain, kind: str, match: Callable[[ET.Element], bool]
    ) -> str | None:
        flags = 0 if dom.isActive() else libvirt.VIR_DOMAIN_XML_INACTIVE
        root = parse(dom.XMLDesc(flags), what="domain XML")
        for elem in root.findall(f"devices/{kind}"):
            if match(elem):
                elem.tail = None
                return ET.tostring(elem, encoding="unicode")
        return None
