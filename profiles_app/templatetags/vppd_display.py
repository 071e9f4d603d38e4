"""Filters that render parts of a VPPD as short, readable text for the pages.

They accept whatever a stored document holds (every field but a few is optional).
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from vmpersona.units import duration_text

register = template.Library()


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@register.filter
def command_line(command: Any) -> str:
    """["/bin/sh", "-c", "x y"] -> /bin/sh -c 'x y'"""
    if isinstance(command, list):
        return shlex.join(str(part) for part in command)
    return "" if command is None else str(command)


@register.filter
def install_summary(install: Any) -> str:
    if not isinstance(install, dict):
        return "—"
    method = install.get("method", "")
    if method == "package":
        text = f"{install.get('manager', '?')} package {install.get('package', '?')}"
        if install.get("version"):
            text += f" {install['version']}"
        return text
    if method == "script":
        lines = str(install.get("script", "")).strip().splitlines()
        shell = install.get("shell", "/bin/sh")
        summary = f"script ({shell}, {len(lines)} line{'s' if len(lines) != 1 else ''})"
        return summary
    if method == "files":
        files = install.get("files") or []
        text = f"{len(files)} file{'s' if len(files) != 1 else ''}"
        if install.get("then"):
            text += " + script"
        return text
    return str(method or "—")


@register.filter
def install_detail(install: Any) -> str:
    """A one-line hint shown under the summary: the script's first line or file paths."""
    if not isinstance(install, dict):
        return ""
    if install.get("method") == "script":
        lines = [ln for ln in str(install.get("script", "")).splitlines() if ln.strip()]
        return lines[0].strip() if lines else ""
    if install.get("method") == "files":
        return ", ".join(
            str(f.get("path", "?")) for f in install.get("files") or [] if isinstance(f, dict)
        )
    return ""


@register.filter
def verify_summary(verify: Any) -> str:
    """HTML: what the check runs and expects."""
    if not isinstance(verify, dict):
        return "—"
    if verify.get("process"):
        return format_html("process <code>{}</code> is running", verify["process"])
    parts = [
        format_html(
            "<code>{}</code> exits {}",
            command_line(verify.get("command")),
            verify.get("expect_exit_code", 0),
        )
    ]
    if verify.get("expect_output_contains"):
        parts.append(format_html("output contains “{}”", verify["expect_output_contains"]))
    if verify.get("expect_output_regex"):
        parts.append(format_html("output matches <code>/{}/</code>", verify["expect_output_regex"]))
    # Every part was escaped by format_html, so the joined text is safe.
    return mark_safe(", ".join(parts))


@register.filter
def ipv4_summary(ipv4: Any) -> str:
    if not isinstance(ipv4, dict) or not ipv4:
        return "not configured"
    if ipv4.get("dhcp"):
        return "DHCP"
    text = str(ipv4.get("address", "?"))
    if ipv4.get("gateway"):
        text += f" via {ipv4['gateway']}"
    if ipv4.get("dns"):
        text += f"; DNS {', '.join(str(d) for d in ipv4['dns'])}"
    return text


@register.filter
def port_summary(rule: Any) -> str:
    if not isinstance(rule, dict):
        return "—"
    if rule.get("port") is not None:
        return str(rule["port"])
    port_range = rule.get("port_range")
    if isinstance(port_range, dict):
        return f"{port_range.get('from', '?')}–{port_range.get('to', '?')}"
    return "any"


@register.filter
def sudo_summary(value: Any) -> str:
    if value == "nopasswd":
        return "yes, no password"
    if value is True:
        return "yes"
    return "no"


@register.filter
def applies_summary(applies_to: Any) -> str:
    if not isinstance(applies_to, dict):
        return "—"
    text = str(applies_to.get("kind", "?"))
    match = applies_to.get("match")
    if isinstance(match, dict) and match:
        conditions = []
        for field in ("subject", "source", "target"):
            if field in match:
                value = match[field]
                if isinstance(value, dict) and "regex" in value:
                    conditions.append(f"{field} ~ /{value['regex']}/")
                else:
                    conditions.append(f"{field} = {json.dumps(value)}")
        text += " where " + " and ".join(conditions)
    return text


@register.filter
def action_summary(action: Any) -> str:
    """HTML: the domain settings a fix changes or the command it runs."""
    if not isinstance(action, dict):
        return "—"
    if action.get("type") == "domain":
        settings = action.get("set") or {}
        return "set " + ", ".join(f"{k}={_num(v)}" for k, v in settings.items())
    if action.get("type") == "guest_command":
        when = str(action.get("when", "after_cutover")).replace("_", " ")
        return format_html("run <code>{}</code> {}", command_line(action.get("command")), when)
    return str(action.get("type", "—"))


@register.filter
def throughput(value: Any) -> str:
    if not isinstance(value, dict):
        return "—"
    return ", ".join(f"{k} {_num(v)}" for k, v in value.items())


@register.filter
def number(value: Any) -> str:
    """1.0 -> 1, 0.5 -> 0.5"""
    return "" if value is None else _num(value)


@register.filter
def seconds(value: Any) -> str:
    """A document's seconds as every duration is written: 10 s, 5 min, 2.5 s."""
    if isinstance(value, int) and not isinstance(value, bool):
        return duration_text(value, whole=True)
    return duration_text(value)


@register.filter
def mib(value: Any) -> str:
    """Memory in MiB, with GiB when it reads better."""
    if not isinstance(value, int | float):
        return "—"
    if value >= 1024 and value % 1024 == 0:
        return f"{int(value // 1024)} GiB"
    return f"{_num(value)} MiB"


@register.filter
def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@register.filter
def environment_flags(flags: Any) -> list[str]:
    return [f for f in flags or [] if f in ("Development", "Testing", "Production")]


@register.filter
def label_flags(flags: Any) -> list[str]:
    return [f for f in flags or [] if f not in ("Development", "Testing", "Production")]
