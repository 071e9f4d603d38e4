"""Checks applied to every name and value before it reaches an XML document or libvirt.

Names of libvirt objects are restricted to a conservative charset (they end up in file
names, chain names and log paths). Free text is allowed anything XML 1.0 can carry;
values that libvirt re-formats itself (paths, command lines, filter parameters) also
refuse control characters, because libvirt would not give them back unchanged.
"""

from __future__ import annotations

import ipaddress
import re
import uuid as uuidlib

from .errors import InvalidSpec

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
FILTER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*\Z")
FILTER_VALUE_RE = re.compile(r"^[A-Za-z0-9_.:]+\Z")
BRIDGE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}\Z")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")
HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
TARGET_DEV_RE = re.compile(r"^(vd|sd|hd|xvd)[a-z]{1,3}\Z")
# XML 1.0 "Char" production.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def check_name(value: object, *, what: str, max_len: int = 64) -> str:
    """A libvirt object name: letters, digits, ``_ . -``, starting with a letter or digit."""
    if not isinstance(value, str) or not value:
        raise InvalidSpec(f"{what} must be a non-empty string")
    if len(value) > max_len:
        raise InvalidSpec(f"{what} is longer than {max_len} characters")
    if not NAME_RE.match(value) or value in {".", ".."}:
        raise InvalidSpec(
            f"{what} {value!r} may hold only letters, digits, '_', '.' and '-', "
            "and must start with a letter or digit"
        )
    return value


def check_filter_name(value: object, *, what: str = "filter name") -> str:
    """An nwfilter name: a libvirt name that is also an XML NCName (no leading digit)."""
    name = check_name(value, what=what)
    if not FILTER_RE.match(name):
        raise InvalidSpec(f"{what} {name!r} must start with a letter or '_'")
    return name


def check_filter_value(value: object, *, what: str) -> str:
    """A filter parameter value (an address, a MAC, a word): ``[A-Za-z0-9_.:]+``."""
    if not isinstance(value, str) or not FILTER_VALUE_RE.match(value) or len(value) > 256:
        raise InvalidSpec(f"{what} may hold only letters, digits, '_', '.' and ':'")
    return value


def check_text(
    value: object,
    *,
    what: str,
    max_len: int | None = None,
    max_bytes: int | None = None,
    single_line: bool = False,
) -> str:
    """Free text that XML can hold; ``single_line`` also refuses every control character.
    ``max_len`` counts characters, ``max_bytes`` the UTF-8 bytes libvirt keeps."""
    if not isinstance(value, str):
        raise InvalidSpec(f"{what} must be a string")
    if max_len is not None and len(value) > max_len:
        raise InvalidSpec(f"{what} is longer than {max_len} characters")
    if max_bytes is not None and len(value.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InvalidSpec(f"{what} is longer than {max_bytes} bytes in UTF-8")
    if _NOT_XML_CHAR.search(value):
        raise InvalidSpec(f"{what} holds a character that XML cannot carry")
    if single_line and _CONTROL.search(value):
        raise InvalidSpec(f"{what} must not hold control characters (newlines, tabs, ...)")
    return value


def check_path(value: object, *, what: str) -> str:
    """An absolute file path, single line."""
    text = check_text(value, what=what, single_line=True, max_len=4096)
    if not text.startswith("/") or len(text) < 2:
        raise InvalidSpec(f"{what} must be an absolute path to a file")
    return text


def check_uuid(value: object, *, what: str = "uuid") -> str:
    try:
        return str(uuidlib.UUID(str(value)))
    except ValueError:
        raise InvalidSpec(f"{what} {value!r} is not a UUID") from None


def check_mac(value: object, *, what: str = "MAC address") -> str:
    text = str(value).strip().lower().replace("-", ":")
    if not MAC_RE.match(text):
        raise InvalidSpec(f"{what} {value!r} is not a MAC address like 52:54:00:12:34:56")
    if int(text[:2], 16) & 1:
        raise InvalidSpec(f"{what} {value!r} is a multicast address")
    return text


def check_int(value: object, *, what: str, minimum: int = 0, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSpec(f"{what} must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and {maximum}" if maximum is not None else ""
        raise InvalidSpec(f"{what} must be between {minimum}{upper}; got {value}")
    return value


def check_choice(value: object, *, what: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidSpec(f"{what} must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def check_bridge(value: object, *, what: str = "bridge name") -> str:
    if not isinstance(value, str) or not BRIDGE_RE.match(value):
        raise InvalidSpec(f"{what} {value!r} must be 1-15 of letters, digits, '_', '.', '-'")
    return value


def check_hostname(value: object, *, what: str = "host name") -> str:
    if not isinstance(value, str) or not HOSTNAME_RE.match(value):
        raise InvalidSpec(f"{what} {value!r} is not a valid host name label")
    return value


def check_ipv4(value: object, *, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise InvalidSpec(f"{what} {value!r} is not an IPv4 address") from None


def check_cidr(value: object, *, what: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise InvalidSpec(f"{what} {value!r} is not an address or CIDR network") from None


def check_target_dev(value: object, *, what: str = "disk target") -> str:
    if not isinstance(value, str) or not TARGET_DEV_RE.match(value):
        raise InvalidSpec(f"{what} {value!r} must look like vda, sdb or hdc")
    return value
