"""The health watch: an interval that fits the period, unique check names, and probe
targets the guest-side probes can use as they are (a host that is an address or a DNS
name, a URL with a host and nothing a command line would split, a one-line fragment)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from profiles_app.jsondoc.errors import DocumentError, pointer, show
from profiles_app.vppd.checks.common import as_dict, as_list, is_int, unique

DEFAULT_INTERVAL_S = 10  # the schema's default for interval_s

# A DNS name: labels of letters, digits and hyphens (not at either end), 1-63 characters
# each, separated by dots, 253 characters in all. A hyphen first would also make the
# host look like an option to the probe's nc.
_DNS_NAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z"
)
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def host_problem(host: str) -> str | None:
    """Why ``host`` is neither an IP address nor a DNS name, or None."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None
    if _DNS_NAME.match(host):
        return None
    return (
        f"{show(host)} is not an IP address or a DNS name (letters, digits and hyphens in "
        "dot-separated labels, no hyphen at either end of a label, at most 253 characters)"
    )


def url_problem(url: str) -> str | None:
    """Why the guest cannot request ``url``, or None."""
    found = _SPACE_OR_CONTROL.search(url)
    if found:
        return (
            f"must not hold whitespace or control characters (U+{ord(found.group()):04X}); "
            "percent-encode them"
        )
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        return f"{show(url)} is not a valid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"must be an http:// or https:// URL, not {show(parts.scheme + ':')}"
    host = parts.hostname
    if not host:
        return f"{show(url)} has no host; write it as http://127.0.0.1/..."
    if parts.username is not None or parts.password is not None:
        return "must not hold a user name or password"
    if port == 0:
        return "port 0 cannot be connected to"
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{show(host)} is not a valid IPv6 address"
        return None
    problem = host_problem(host)
    return f"the host of the URL: {problem}" if problem else None


def _check_interval(watch: dict) -> Iterator[DocumentError]:
    period = watch.get("period_s")
    if not is_int(period) or period <= 0:
        return  # absent: the installation's default period, not known here; 0: no watch
    interval = watch.get("interval_s")
    if is_int(interval):
        if interval > period:
            yield DocumentError(
                "/health_watch/interval_s",
                f"must not exceed period_s ({period}); got {interval}",
            )
    elif interval is None and period < DEFAULT_INTERVAL_S:
        yield DocumentError(
            "/health_watch/period_s",
            f"is shorter than the default interval_s of {DEFAULT_INTERVAL_S} s; "
            f"give interval_s of at most {period}",
        )


def check_health_watch(doc: dict, **_: Any) -> Iterator[DocumentError]:
    if "health_watch" not in doc:
        return
    watch = as_dict(doc.get("health_watch"))
    yield from _check_interval(watch)
    base = ("health_watch", "checks")
    checks = as_list(watch.get("checks"))
    yield from unique(checks, "name", base, "check name")
    for index, check in enumerate(checks):
        check = as_dict(check)
        tcp = as_dict(check.get("tcp"))
        host = tcp.get("host")
        if isinstance(host, str):
            problem = host_problem(host)
            if problem:
                yield DocumentError(pointer((*base, index, "tcp", "host")), problem)
        http = as_dict(check.get("http"))
        url = http.get("url")
        if isinstance(url, str):
            problem = url_problem(url)
            if problem:
                yield DocumentError(pointer((*base, index, "http", "url")), problem)
        fragment = http.get("expect_body_contains")
        if isinstance(fragment, str):
            found = _CONTROL.search(fragment)
            if found:
                yield DocumentError(
                    pointer((*base, index, "http", "expect_body_contains")),
                    f"must be a single line: it holds the control character "
                    f"U+{ord(found.group()):04X} (newline, tab, carriage return, ...)",
                )
