"""Network operations: isolated networks and live DHCP host entries."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import libvirt

from ._facet import Facet
from ._xml import parse, to_string
from .errors import AlreadyExists, NotFound
from .networkxml import dhcp_host_xml, network_info_from_xml, network_xml, parse_network_xml
from .types import DhcpHost, NetworkInfo, NetworkSpec
from .validation import check_mac


def _network_info(net: libvirt.virNetwork) -> NetworkInfo:
    try:
        autostart = bool(net.autostart())
    except libvirt.libvirtError:
        autostart = False
    return network_info_from_xml(
        net.XMLDesc(0),
        active=bool(net.isActive()),
        persistent=bool(net.isPersistent()),
        autostart=autostart,
    )


def _update_flags(net: libvirt.virNetwork, *, live: bool, config: bool) -> int:
    flags = 0
    if live and net.isActive():
        flags |= libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE
    if config and net.isPersistent():
        flags |= libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG
    return flags or libvirt.VIR_NETWORK_UPDATE_AFFECT_CURRENT


class Networks(Facet):
    """``hv.networks``."""

    def list(self) -> list[NetworkInfo]:
        return self._call(
            "list networks",
            lambda c: sorted(
                (_network_info(n) for n in c.listAllNetworks(0)), key=lambda n: n.name
            ),
        )

    def info(self, name: str) -> NetworkInfo:
        return self._call(
            f"look up network {name!r}", lambda c: _network_info(c.networkLookupByName(name))
        )

    def spec(self, name: str) -> NetworkSpec:
        return parse_network_xml(
            self._call(
                f"read the XML of network {name!r}",
                lambda c: c.networkLookupByName(name).XMLDesc(0),
            )
        )

    def exists(self, name: str) -> bool:
        try:
            self.info(name)
        except NotFound:
            return False
        return True

    def define(
        self, spec: NetworkSpec, *, start: bool = True, autostart: bool = False
    ) -> NetworkInfo:
        """Define (and by default start) a network. Raises ``AlreadyExists``."""
        xml = network_xml(spec)

        def run(conn: libvirt.virConnect) -> NetworkInfo:
            try:
                conn.networkLookupByName(spec.name)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_NETWORK:
                    raise
            else:
                raise AlreadyExists(f"A network named {spec.name!r} already exists")
            net = conn.networkDefineXML(xml)
            try:
                if start:
                    net.create()
                if autostart:
                    net.setAutostart(1)
            except libvirt.libvirtError:
                net.undefine()
                raise
            return _network_info(net)

        return self._call(f"define network {spec.name!r}", run)

    def start(self, name: str) -> NetworkInfo:
        def run(conn: libvirt.virConnect) -> NetworkInfo:
            net = conn.networkLookupByName(name)
            if not net.isActive():
                net.create()
            return _network_info(net)

        return self._call(f"start network {name!r}", run)

    def stop(self, name: str) -> None:
        """Destroy (stop) the network; no-op when it is not running."""

        def run(conn: libvirt.virConnect) -> None:
            net = conn.networkLookupByName(name)
            if net.isActive():
                net.destroy()

        self._call(f"stop network {name!r}", run)

    def undefine(self, name: str) -> None:
        self._call(f"undefine network {name!r}", lambda c: c.networkLookupByName(name).undefine())

    def delete(self, name: str, *, missing_ok: bool = True) -> bool:
        """Stop and undefine. Returns False when there was nothing to delete."""
        try:
            self.stop(name)
            if self.info(name).persistent:
                self.undefine(name)
        except NotFound:
            if not missing_ok:
                raise
            return False
        return True

    def dhcp_host_add(
        self, network: str, host: DhcpHost, *, live: bool = True, config: bool = True
    ) -> None:
        """Add a static lease (on the running network and/or its config)."""
        xml = dhcp_host_xml(host)

        def run(conn: libvirt.virConnect) -> None:
            net = conn.networkLookupByName(network)
            net.update(
                libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
                libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST,
                -1,
                xml,
                _update_flags(net, live=live, config=config),
            )

        self._call(f"add DHCP host {host.mac} to network {network!r}", run)

    def dhcp_host_remove(
        self, network: str, *, mac: str, live: bool = True, config: bool = True
    ) -> None:
        """Remove the static lease of ``mac``. Raises ``NotFound`` when there is none."""
        mac = check_mac(mac)

        def run(conn: libvirt.virConnect) -> None:
            net = conn.networkLookupByName(network)
            root = parse(net.XMLDesc(0), what="network XML")
            entry = next(
                (h for h in root.findall("ip/dhcp/host") if (h.get("mac") or "").lower() == mac),
                None,
            )
            if entry is None:
                raise NotFound(f"Network {network!r} has no DHCP host with MAC {mac}")
            net.update(
                libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE,
                libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST,
                -1,
                to_string(ET.Element("host", dict(entry.attrib))),
                _update_flags(net, live=live, config=config),
            )

        self._call(f"remove DHCP host {mac} from network {network!r}", run)
