"""The VPPD's value rules, checked again right before a value reaches the guest.

The document was validated when it was approved; these checks are the second line of
defence at the boundary where a value becomes a command-line argument, a file name or a
line of a configuration file read by a shell script. A value that breaks its rule raises
``GuestStepError`` with the pointer of the offending field.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from .errors import GuestStepError

COMPONENT_RE = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,62}\Z")
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~:-]{0,63}\Z")
PACKAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}\Z")
PACKAGE_VERSION_RE = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9._+~:*-]{0,63}\Z")
SLUG_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
POSIX_NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}\Z")
OWNER_RE = re.compile(r"^([a-z_][a-z0-9_-]{0,31}|[0-9]{1,10})\Z")
MODE_RE = re.compile(r"^[0-7]{3,4}\Z")
FILE_PATH_RE = re.compile(r"^(/(?!\.{1,2}(/|$))[^/\x00-\x1f]+)+\Z")
ABSOLUTE_PATH_RE = re.compile(r"^/$|^(/(?!\.{1,2}(/|$))[^/\x00-\x1f]+)+\Z")
IFNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{0,14}\Z")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")
PROCESS_RE = re.compile(r"^[^/\x00-\x1f][^\x00-\x1f]{0,63}\Z")
HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
SSH_KEY_RE = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|"
    r"ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) "
    r"[A-Za-z0-9+/]+={0,2}( [^\x00-\x1f]*)?$"
)
CRON_FIELD_RE = re.compile(r"^[0-9A-Za-z*/,-]{1,64}\Z")
FILESYSTEMS = ("ext4", "xfs", "btrfs", "vfat")
MANAGERS = ("apt", "dnf", "apk", "zypper")
IDS_ENGINES = ("aide", "ossec", "wazuh", "tripwire", "builtin")
MAX_TIMEOUT = 86400.0


def fail(message: str, pointer: str) -> GuestStepError:
    return GuestStepError(message, pointer=pointer)


def _string(value: Any, pointer: str, what: str) -> str:
    if not isinstance(value, str):
        raise fail(f"{what} must be a string", pointer)
    return value


def match(regex: re.Pattern[str], value: Any, pointer: str, what: str) -> str:
    text = _string(value, pointer, what)
    if not regex.match(text):
        raise fail(f"{what} {text[:80]!r} is not allowed here", pointer)
    return text


def component_name(value: Any, pointer: str) -> str:
    return match(COMPONENT_RE, value, pointer, "component name")


def version(value: Any, pointer: str) -> str:
    return match(VERSION_RE, value, pointer, "version")


def posix_name(value: Any, pointer: str) -> str:
    return match(POSIX_NAME_RE, value, pointer, "user or group name")


def owner(value: Any, pointer: str) -> str:
    return match(OWNER_RE, value, pointer, "owner")


def mode(value: Any, pointer: str) -> str:
    return match(MODE_RE, value, pointer, "mode")


def file_path(value: Any, pointer: str) -> str:
    return match(FILE_PATH_RE, value, pointer, "path")


def absolute_path(value: Any, pointer: str) -> str:
    return match(ABSOLUTE_PATH_RE, value, pointer, "path")


def ifname(value: Any, pointer: str) -> str:
    return match(IFNAME_RE, value, pointer, "interface name")


def mac(value: Any, pointer: str) -> str:
    return match(MAC_RE, _string(value, pointer, "MAC address").lower(), pointer, "MAC address")


def process_name(value: Any, pointer: str) -> str:
    return match(PROCESS_RE, value, pointer, "process name")


def hostname(value: Any, pointer: str = "") -> str:
    return match(HOSTNAME_RE, value, pointer, "host name")


def ssh_key(value: Any, pointer: str) -> str:
    return match(SSH_KEY_RE, value, pointer, "SSH public key")


def choice(value: Any, choices: tuple[str, ...], pointer: str, what: str) -> str:
    if value not in choices:
        raise fail(f"{what} must be one of {', '.join(choices)}", pointer)
    return value


def timeout(value: Any, default: float, pointer: str) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail("timeout must be a number of seconds", pointer)
    if not 0 < float(value) <= MAX_TIMEOUT:
        raise fail(f"timeout must be above 0 and at most {MAX_TIMEOUT:g} seconds", pointer)
    return float(value)


def uid(value: Any, pointer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 4294967294:
        raise fail("numeric id must be an integer from 0 to 4294967294", pointer)
    return value


def ipv4_interface(value: Any, pointer: str) -> ipaddress.IPv4Interface:
    text = _string(value, pointer, "IPv4 address")
    try:
        iface = ipaddress.IPv4Interface(text)
    except ValueError:
        raise fail(f"{text!r} is not an IPv4 address with a prefix length", pointer) from None
    if "/" not in text:
        raise fail(f"{text!r} needs a prefix length such as /24", pointer)
    return iface


def ipv4_address(value: Any, pointer: str) -> ipaddress.IPv4Address:
    text = _string(value, pointer, "IPv4 address")
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise fail(f"{text!r} is not an IPv4 address", pointer) from None


def dns_server(value: Any, pointer: str) -> str:
    text = _string(value, pointer, "DNS server")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise fail(f"{text!r} is not an IP address", pointer) from None


def cron_schedule(value: Any, pointer: str) -> str:
    text = _string(value, pointer, "schedule")
    fields = text.split()
    if len(fields) != 5 or not all(CRON_FIELD_RE.match(f) for f in fields):
        raise fail(
            f"schedule {text[:80]!r} must be a cron expression of five fields "
            "such as '*/15 * * * *'",
            pointer,
        )
    return " ".join(fields)


def file_content(entry: Mapping[str, Any], pointer: str) -> bytes:
    """The bytes of a file entry (``content`` as utf-8 text or base64)."""
    content = _string(entry.get("content"), f"{pointer}/content", "file content")
    encoding = entry.get("encoding", "utf-8")
    if encoding == "utf-8":
        return content.encode("utf-8")
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise fail("content is not valid base64", f"{pointer}/content") from None
    raise fail("encoding must be utf-8 or base64", f"{pointer}/encoding")


def command(value: Any, pointer: str) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(a, str) for a in value)
        or not value[0]
    ):
        raise fail("command must be a non-empty list of strings", pointer)
    if any("\x00" in a for a in value):
        raise fail("command arguments cannot contain NUL characters", pointer)
    return list(value)
