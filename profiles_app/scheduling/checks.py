"""The scheduling policy's rules a JSON Schema cannot say, named by the section they read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from profiles_app.jsondoc.checking import Check
from profiles_app.jsondoc.errors import DocumentError, pointer

TRIGGER_SECTIONS = {
    "utilisation": "utilisation",
    "vulnerability": "vulnerability",
    "cost": "cost",
    "evacuation": "evacuation",
}


def check_trigger(doc: dict, **_: Any) -> Iterator[DocumentError]:
    trigger = str(doc.get("trigger"))
    needed = TRIGGER_SECTIONS.get(trigger)
    if trigger in ("utilisation", "evacuation") and needed not in doc:
        yield DocumentError(pointer([needed]), f"a {trigger} policy needs its '{needed}' section")
    for section in TRIGGER_SECTIONS.values():
        if section in doc and section != needed:
            yield DocumentError(
                pointer([section]),
                f"only a {section} policy reads this section; this one's trigger is {trigger}",
            )


def check_utilisation(doc: dict, **_: Any) -> Iterator[DocumentError]:
    use = doc.get("utilisation")
    if not isinstance(use, dict):
        return
    trigger, target = use.get("trigger_percent"), use.get("target_percent")
    if isinstance(trigger, (int, float)) and isinstance(target, (int, float)) and target >= trigger:
        yield DocumentError(
            pointer(["utilisation", "target_percent"]),
            f"must be below trigger_percent ({trigger:g}): a platform relieved to the "
            "trigger would trigger again",
        )


def check_vulnerability(doc: dict, **_: Any) -> Iterator[DocumentError]:
    vuln = doc.get("vulnerability")
    if not isinstance(vuln, dict):
        return
    low, high = vuln.get("min_cvss", 7), vuln.get("approve_at_once_cvss", 9)
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and high < low:
        yield DocumentError(
            pointer(["vulnerability", "approve_at_once_cvss"]),
            f"must be at least min_cvss ({low:g})",
        )


def check_automation(doc: dict, **_: Any) -> Iterator[DocumentError]:
    if doc.get("automation") == "automatic" and not doc.get("window"):
        yield DocumentError(
            "/window", "an automatic policy needs the maintenance window its work runs in"
        )


def check_cooldown(doc: dict, **_: Any) -> Iterator[DocumentError]:
    cooldown = doc.get("cooldown")
    if not isinstance(cooldown, dict):
        return
    low, high = cooldown.get("minutes", 1440), cooldown.get("max_minutes", 10080)
    if isinstance(low, int) and isinstance(high, int) and high < low:
        yield DocumentError(
            pointer(["cooldown", "max_minutes"]), f"must be at least minutes ({low})"
        )


def _unique_names(doc: dict, section: str) -> Iterator[DocumentError]:
    seen: dict[str, int] = {}
    for index, item in enumerate(doc.get(section) or []):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            yield DocumentError(
                pointer([section, index, "name"]),
                f"'{name}' is already the name of {section}/{seen[name]}",
            )
        else:
            seen[name] = index


def check_affinity(doc: dict, **_: Any) -> Iterator[DocumentError]:
    yield from _unique_names(doc, "affinity")


def check_platform_rules(doc: dict, **_: Any) -> Iterator[DocumentError]:
    yield from _unique_names(doc, "platform_rules")


SEMANTIC_CHECKS: tuple[tuple[str, Check], ...] = (
    ("trigger", check_trigger),
    ("utilisation", check_utilisation),
    ("vulnerability", check_vulnerability),
    ("automation", check_automation),
    ("cooldown", check_cooldown),
    ("affinity", check_affinity),
    ("platform_rules", check_platform_rules),
)
