"""Network interfaces inside the guest: found by MAC, named, static IPv4 or DHCP, DNS,
persisted in a boot script."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from operations_app.hypervisor import GuestInterface, HypervisorError

from . import guestfiles as gf
from . import validation as v
from .boot import Boot
from .errors import GuestStepError
from .results import CheckResult
from .session import FileSpec, GuestSession

RESOLV_CONF = "/etc/resolv.conf"
ADDRESS_WAIT = 45.0  # seconds for addresses (a DHCP lease) to show up


@dataclass
class NicSpec:
    index: int
    mac: str
    name: str | None
    method: str  # static, dhcp or none
    address: ipaddress.IPv4Interface | None = None
    gateway: ipaddress.IPv4Address | None = None
    dns: tuple[str, ...] = ()

    @property
    def pointer(self) -> str:
        return f"/network_configuration/interfaces/{self.index}"

    def conf_line(self) -> str:
        return " ".join(
            [
                self.mac,
                self.name or "-",
                self.method,
                str(self.address) if self.address else "-",
                str(self.gateway) if self.gateway else "-",
                str(self.index),
            ]
        )


def nic_specs(interfaces: Sequence[Mapping[str, Any]], macs: Sequence[str]) -> list[NicSpec]:
    if len(macs) < len(interfaces):
        raise GuestStepError(
            f"{len(interfaces)} interface(s) but only {len(macs)} MAC address(es) were given",
            pointer="/network_configuration/interfaces",
        )
    specs = []
    for i, iface in enumerate(interfaces):
        here = f"/network_configuration/interfaces/{i}"
        if not isinstance(iface, Mapping):
            raise GuestStepError("an interface must be an object", pointer=here)
        name = iface.get("name")
        ipv4 = iface.get("ipv4")
        spec = NicSpec(
            index=i,
            mac=v.mac(macs[i], f"{here}/mac"),
            name=None if name is None else v.ifname(name, f"{here}/name"),
            method="none",
        )
        if ipv4 is None:
            pass
        elif not isinstance(ipv4, Mapping):
            raise GuestStepError("ipv4 must be an object", pointer=f"{here}/ipv4")
        elif ipv4.get("dhcp") is True:
            spec.method = "dhcp"
        elif "address" in ipv4:
            spec.method = "static"
            spec.address = v.ipv4_interface(ipv4["address"], f"{here}/ipv4/address")
            if ipv4.get("gateway") is not None:
                spec.gateway = v.ipv4_address(ipv4["gateway"], f"{here}/ipv4/gateway")
            dns = ipv4.get("dns") or []
            if not isinstance(dns, list):
                raise GuestStepError("dns must be a list", pointer=f"{here}/ipv4/dns")
            spec.dns = tuple(v.dns_server(d, f"{here}/ipv4/dns/{j}") for j, d in enumerate(dns))
        else:
            raise GuestStepError("give either address or dhcp: true", pointer=f"{here}/ipv4")
        specs.append(spec)
    names = [s.name for s in specs if s.name]
    if len(set(names)) != len(names):
        raise GuestStepError(
            "interface names must be unique", pointer="/network_configuration/interfaces"
        )
    return specs


def network_conf(specs: Sequence[NicSpec]) -> str:
    head = "# MAC NAME METHOD ADDRESS/PREFIX GATEWAY METRIC (written by VM Persona)\n"
    return head + "".join(s.conf_line() + "\n" for s in specs)


def resolv_conf(specs: Sequence[NicSpec]) -> str | None:
    servers: list[str] = []
    for spec in specs:
        for server in spec.dns:
            if server not in servers:
                servers.append(server)
    if not servers:
        return None
    return "# written by VM Persona\n" + "".join(f"nameserver {s}\n" for s in servers)


def parse_default_routes(text: str) -> list[tuple[str, str]]:
    """(gateway, device) of each ``default via GW dev DEV`` line of ``ip -4 route``."""
    routes = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["default"] and "via" in words and "dev" in words:
            routes.append((words[words.index("via") + 1], words[words.index("dev") + 1]))
    return routes


def nameservers(text: str) -> list[str]:
    return [
        line.split()[1]
        for line in text.splitlines()
        if line.strip().startswith("nameserver") and len(line.split()) >= 2
    ]


def ipv4_of(nic: GuestInterface) -> list[tuple[str, int | None]]:
    return [
        (a.address, a.prefix)
        for a in nic.addresses
        if a.type == "ipv4" and not a.address.startswith(("127.", "169.254."))
    ]


def satisfied(spec: NicSpec, nic: GuestInterface | None) -> bool:
    if nic is None:
        return False
    if spec.name and nic.name != spec.name:
        return False
    if spec.method == "static":
        assert spec.address is not None
        return (str(spec.address.ip), spec.address.network.prefixlen) in ipv4_of(nic)
    if spec.method == "dhcp":
        return bool(ipv4_of(nic))
    return True


class Network:
    def __init__(self, session: GuestSession, boot: Boot) -> None:
        self.s = session
        self.boot = boot

    def interfaces(self, pointer: str = "/network_configuration") -> dict[str, GuestInterface]:
        """Guest NICs by (lower-case) MAC, as the agent reports them."""
        try:
            nics = self.s.agent.network_interfaces(self.s.domain)
        except HypervisorError as exc:
            raise GuestStepError(
                f"cannot list the guest's interfaces: {exc}", pointer=pointer
            ) from exc
        finally:
            self.s.beat()
        return {n.mac.lower(): n for n in nics if n.mac}

    def configure(self, interfaces: Sequence[Mapping[str, Any]], macs: Sequence[str]) -> None:
        specs = nic_specs(interfaces, macs)
        if not specs:
            return
        self.boot.require("Keeping the network configuration", "/network_configuration/interfaces")
        present = self.interfaces()
        for spec in specs:
            if spec.mac not in present:
                raise GuestStepError(
                    f"the guest has no network interface with MAC {spec.mac} "
                    f"(it has {', '.join(sorted(present)) or 'none'})",
                    pointer=spec.pointer,
                )
            if spec.method == "dhcp" and self.s.command_path("udhcpc") is None:
                raise GuestStepError(
                    "DHCP needs udhcpc, which this guest lacks", pointer=f"{spec.pointer}/ipv4/dhcp"
                )
            self.s.log(
                f"interface {spec.index}: MAC {spec.mac} ({present[spec.mac].name}) -> "
                f"{spec.name or present[spec.mac].name}, {spec.method}"
                + (f" {spec.address}" if spec.address else "")
                + (f" via {spec.gateway}" if spec.gateway else "")
            )
        files = [
            FileSpec(
                gf.NETWORK_CONF,
                network_conf(specs).encode(),
                pointer="/network_configuration/interfaces",
            )
        ]
        resolv = resolv_conf(specs)
        if resolv is not None:
            files.append(
                FileSpec(RESOLV_CONF, resolv.encode(), pointer="/network_configuration/interfaces")
            )
        self.s.write_files(files, what="network configuration")
        self.boot.install(
            gf.NETWORK_SCRIPT,
            gf.NETWORK,
            pointer="/network_configuration/interfaces",
            what="network boot script",
        )
        self.s.run(
            [gf.NETWORK_SCRIPT, "start"],
            what="apply the network configuration",
            pointer="/network_configuration/interfaces",
            timeout=60,
        )
        self.wait_for(specs)

    def wait_for(self, specs: Sequence[NicSpec], timeout: float | None = None) -> None:
        timeout = ADDRESS_WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            present = self.interfaces()
            missing = [s for s in specs if not satisfied(s, present.get(s.mac))]
            if not missing:
                return
            if time.monotonic() >= deadline:
                spec = missing[0]
                nic = present.get(spec.mac)
                seen = (
                    f"{nic.name}: {', '.join(f'{a}/{p}' for a, p in ipv4_of(nic)) or 'no IPv4 address'}"
                    if nic
                    else "gone"
                )
                what = (
                    "no DHCP lease"
                    if spec.method == "dhcp"
                    else f"not {spec.name or ''} {spec.address or ''}".strip()
                )
                raise GuestStepError(
                    f"interface {spec.mac}: {what} within {timeout:g} s (guest reports {seen})",
                    pointer=f"{spec.pointer}/ipv4" if spec.method != "none" else spec.pointer,
                )
            self.s.check_cancelled(missing[0].pointer)
            time.sleep(1.0)

    # ------------------------------------------------------------------ verify

    def verify(
        self, interfaces: Sequence[Mapping[str, Any]], macs: Sequence[str]
    ) -> list[CheckResult]:
        try:
            specs = nic_specs(interfaces, macs)
        except GuestStepError as exc:
            return [
                CheckResult(
                    "network",
                    exc.pointer,
                    "network interfaces",
                    "guest",
                    "valid",
                    "invalid",
                    False,
                    str(exc),
                )
            ]
        if not specs:
            return []
        present = self.interfaces()
        routes_text = self.s.run(
            ["ip", "-4", "route", "show"], what="ip route", check=False, quiet=True
        ).stdout_text
        routes = parse_default_routes(routes_text)
        servers = nameservers(self.s.read_text(RESOLV_CONF) or "")
        checks = []

        def add(
            pointer: str, name: str, expected: str, actual: str, passed: bool, detail: str = ""
        ) -> None:
            checks.append(
                CheckResult("network", pointer, name, "guest", expected, actual, passed, detail)
            )

        for spec in specs:
            nic = present.get(spec.mac)
            label = f"interface {spec.name or spec.index} ({spec.mac})"
            if nic is None:
                add(
                    spec.pointer,
                    f"{label} present",
                    f"a NIC with MAC {spec.mac}",
                    "no such NIC",
                    False,
                )
                continue
            if spec.name:
                add(
                    f"{spec.pointer}/name",
                    f"{label} name",
                    spec.name,
                    nic.name,
                    nic.name == spec.name,
                )
            elif spec.method == "none":
                add(spec.pointer, f"{label} present", f"a NIC with MAC {spec.mac}", nic.name, True)
            have = ipv4_of(nic)
            shown = ", ".join(f"{a}/{p}" for a, p in have) or "no IPv4 address"
            if spec.method == "static":
                assert spec.address is not None
                want = (str(spec.address.ip), spec.address.network.prefixlen)
                add(
                    f"{spec.pointer}/ipv4/address",
                    f"{label} IPv4 address",
                    str(spec.address),
                    shown,
                    want in have,
                )
                if spec.gateway:
                    dev_routes = [f"via {g} dev {d}" for g, d in routes]
                    add(
                        f"{spec.pointer}/ipv4/gateway",
                        f"{label} default gateway",
                        f"via {spec.gateway} dev {nic.name}",
                        ", ".join(dev_routes) or "no default route",
                        (str(spec.gateway), nic.name) in routes,
                    )
                if spec.dns:
                    add(
                        f"{spec.pointer}/ipv4/dns",
                        f"{label} DNS servers",
                        ", ".join(spec.dns),
                        ", ".join(servers) or "none in /etc/resolv.conf",
                        all(d in servers for d in spec.dns),
                    )
            elif spec.method == "dhcp":
                add(
                    f"{spec.pointer}/ipv4/dhcp",
                    f"{label} DHCP address",
                    "an IPv4 address from DHCP",
                    shown,
                    bool(have),
                )
        conf = self.s.read_text(gf.NETWORK_CONF) or ""
        script = self.s.exists(gf.NETWORK_SCRIPT)
        want_conf = network_conf(specs)
        problems = []
        if conf != want_conf:
            problems.append(f"{gf.NETWORK_CONF} differs" if conf else f"{gf.NETWORK_CONF} missing")
        if not script:
            problems.append(f"{gf.NETWORK_SCRIPT} missing")
        add(
            "/network_configuration/interfaces",
            "network configuration applied at boot",
            f"{gf.NETWORK_SCRIPT} with {len(specs)} interface(s)",
            "present" if not problems else "; ".join(problems),
            not problems,
        )
        return checks
