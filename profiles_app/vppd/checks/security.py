"""Users, groups and permissions: unique ids, root's uid, SSH public keys."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from typing import Any

from profiles_app.jsondoc.errors import DocumentError, pointer, show
from profiles_app.vppd.checks.common import as_dict, as_list, is_int, unique


def _ssh_key_problem(line: str) -> str | None:
    parts = line.split(" ", 2)
    if len(parts) < 2:
        return "is not an SSH public key line (type, key data, optional comment)"
    kind, data = parts[0], parts[1]
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return f"the key data of this {kind} key is not valid base64"
    length = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else -1
    embedded = raw[4 : 4 + length] if 0 <= length <= len(raw) - 4 else None
    if embedded is None or len(raw) < 4 + length + 4:
        return f"the key data of this {kind} key is truncated or not an SSH public key"
    if embedded != kind.encode():
        name = embedded.decode("ascii", "replace")
        return f"the key data is a {show(name)} key but the line says {kind}"
    return None


# The guest writes the schedule into a crontab line (operations_app/guest/validation.py
# ``cron_schedule``): five fields of these characters.
_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,-]{1,64}")


def _check_ids_schedule(ids: dict) -> Iterator[DocumentError]:
    settings = as_dict(ids.get("settings"))
    schedule = settings.get("schedule")
    if ids.get("enabled") is not True or schedule is None:
        return
    at = pointer(("security_profile", "intrusion_detection", "settings", "schedule"))
    fields = schedule.split() if isinstance(schedule, str) else []
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        yield DocumentError(
            at,
            f"{show(schedule)} is not valid: expected a cron expression of exactly five fields "
            "(minute hour day-of-month month day-of-week) such as '*/15 * * * *'",
        )


def check_security(doc: dict, **_: Any) -> Iterator[DocumentError]:
    security = as_dict(doc.get("security_profile"))
    users = as_list(security.get("users"))
    groups = as_list(security.get("groups"))
    yield from unique(users, "name", ("security_profile", "users"), "user name")
    yield from unique(users, "uid", ("security_profile", "users"), "uid")
    yield from unique(groups, "name", ("security_profile", "groups"), "group name")
    yield from unique(groups, "gid", ("security_profile", "groups"), "gid")
    for index, user in enumerate(users):
        user = as_dict(user)
        name, uid = user.get("name"), user.get("uid")
        at = pointer(("security_profile", "users", index, "uid"))
        if uid == 0 and is_int(uid) and name != "root":
            yield DocumentError(at, f"uid 0 is reserved for root; give {show(name)} another uid")
        if name == "root" and is_int(uid) and uid != 0:
            yield DocumentError(at, f"root must have uid 0; got {uid}")
        for position, key in enumerate(as_list(user.get("ssh_authorized_keys"))):
            if isinstance(key, str):
                problem = _ssh_key_problem(key)
                if problem:
                    base = ("security_profile", "users", index, "ssh_authorized_keys", position)
                    yield DocumentError(pointer(base), problem)
    yield from _check_ids_schedule(as_dict(security.get("intrusion_detection")))
    yield from unique(
        as_list(security.get("permissions")),
        "path",
        ("security_profile", "permissions"),
        "permission path",
    )
