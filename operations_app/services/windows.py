"""Maintenance windows: every write goes through here.

Pages, the API, the admin's actions and the CLI call these with the person asking, who
needs the operators role; ``user=None`` is the system itself (root's CLI without
``--as``). Input is a mapping of the model's field names (``data``); each problem is
reported with its path (``rrule``, ``exdates/2``, ``labels/team``, ``platforms/0``,
``approval_kinds/1``; in an import ``events/<n>/<field>``), all of them at once as one
``ValidationError``.
Each change is one history row, by that user, scope included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import QuerySet
from django.utils.text import slugify

from operations_app.labels import label_errors
from operations_app.models import APPROVAL_KINDS, MaintenanceWindow, Platform, WindowKind
from operations_app.windows import (
    IcsError,
    WindowData,
    WindowRule,
    from_ics,
    normalize_rrule,
    to_ics,
    validate_rule,
)
from profiles_app.models import Policy, PolicyKind
from vmpersona.errors import field_error
from vmpersona.history import attribute_change
from vmpersona.roles import OPERATORS, require_role

RULE_FIELDS = (
    "timezone",
    "start_date",
    "start_time",
    "duration_minutes",
    "rrule",
    "exdates",
    "cutoff_minutes",
)
EDITABLE_FIELDS = (
    "name",
    "kind",
    *RULE_FIELDS,
    "enabled",
    "description",
    "webhook_url",
    "platforms",
    "profiles",
    "execution_flags",
    "labels",
    "approval_required",
    "approval_kinds",
)
REQUIRED_FIELDS = ("name", "timezone", "start_date", "start_time", "duration_minutes")
SCOPE_RELATIONS = ("platforms", "profiles")
KIND_NAMES = ", ".join(APPROVAL_KINDS)
RESERVED_NAMES = frozenset({"new", "calendar", "import", "export"})
NAME_MAX = 100
WEBHOOK_MAX = 500
# An execution flag as the VPPD schema has it (profiles_app/vppd/schema.json).
FLAG = re.compile(r"Development|Testing|Production|[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?")

Problems = list[tuple[str, str]]


def _check_role(user) -> None:
    # ``user=None`` is the system itself (periodic tasks, the local CLI run by root).
    if user is not None:
        require_role(user, OPERATORS, "manage maintenance windows")


def _raise(problems: Problems, *, prefix: str = "") -> None:
    if problems:
        raise ValidationError([field_error(prefix + path, message) for path, message in problems])


# --------------------------------------------------------------------------- field values


def _as_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise ValueError


def _as_time(value: Any) -> time:
    if isinstance(value, str):
        value = time.fromisoformat(value.strip())
    if not isinstance(value, time) or value.tzinfo is not None:
        raise ValueError
    return value.replace(microsecond=0)


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ValueError


def _clean_value(key: str, value: Any, problems: Problems) -> Any:
    """The field's value as the model keeps it, or a problem (and None)."""
    try:
        return _CONVERTERS[key](value, problems)
    except (ValueError, TypeError):
        problems.append((key, _EXPECTED[key]))
        return None


def _name(value: Any, problems: Problems) -> str:
    if not isinstance(value, str) or not value or slugify(value) != value:
        raise ValueError
    if len(value) > NAME_MAX:
        problems.append(("name", f"at most {NAME_MAX} characters"))
    elif value in RESERVED_NAMES:
        problems.append(("name", f"'{value}' is reserved; choose another name"))
    return value


def _kind(value: Any, problems: Problems) -> str:
    if value not in WindowKind.values:
        raise ValueError
    return str(value)


def _text(value: Any, problems: Problems) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


def _rrule(value: Any, problems: Problems) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError
    return normalize_rrule(value)


def _exdates(value: Any, problems: Problems) -> list[date]:
    if not isinstance(value, list | tuple):
        raise ValueError
    days = []
    for index, item in enumerate(value):
        try:
            days.append(_as_date(item))
        except (ValueError, TypeError):
            problems.append((f"exdates/{index}", "a date, e.g. 2026-12-26"))
    return days


def _boolean(value: Any, problems: Problems) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _webhook(value: Any, problems: Problems) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError
    value = value.strip()
    if value:
        if len(value) > WEBHOOK_MAX:
            problems.append(("webhook_url", f"at most {WEBHOOK_MAX} characters"))
        else:
            try:
                URLValidator(schemes=["http", "https"])(value)
            except ValidationError:
                raise ValueError from None
    return value


def _names(value: Any, problems: Problems) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ValueError
    return list(value)


def _flags(value: Any, problems: Problems) -> list[str]:
    if not isinstance(value, list | tuple):
        raise ValueError
    flags: list[str] = []
    for index, flag in enumerate(value):
        if not isinstance(flag, str) or not FLAG.fullmatch(flag):
            problems.append(
                (f"execution_flags/{index}", "Development, Testing, Production or a lowercase flag")
            )
        elif flag in flags:
            problems.append((f"execution_flags/{index}", f"'{flag}' is given twice"))
        else:
            flags.append(flag)
    return flags


def _approval_kinds(value: Any, problems: Problems) -> list[str]:
    if not isinstance(value, list | tuple):
        raise ValueError
    kinds: list[str] = []
    for index, kind in enumerate(value):
        if kind not in APPROVAL_KINDS:
            problems.append(
                (f"approval_kinds/{index}", f"unknown kind {kind!r}: one of {KIND_NAMES}")
            )
        elif kind in kinds:
            problems.append((f"approval_kinds/{index}", f"'{kind}' is given twice"))
        else:
            kinds.append(str(kind))
    # Stored in one order, so that the same choice never reads as a change.
    return [k.value for k in APPROVAL_KINDS if k in kinds]


def _labels(value: Any, problems: Problems) -> dict[str, str]:
    errors = label_errors(value)
    problems += [(e.path, e.message) for e in errors]
    return dict(sorted(value.items())) if not errors else {}


_CONVERTERS = {
    "name": _name,
    "kind": _kind,
    "timezone": _text,
    "start_date": lambda v, p: _as_date(v),
    "start_time": lambda v, p: _as_time(v),
    "duration_minutes": lambda v, p: _as_int(v),
    "rrule": _rrule,
    "exdates": _exdates,
    "cutoff_minutes": lambda v, p: _as_int(v),
    "enabled": _boolean,
    "description": _text,
    "webhook_url": _webhook,
    "platforms": _names,
    "profiles": _names,
    "execution_flags": _flags,
    "labels": _labels,
    "approval_required": _boolean,
    "approval_kinds": _approval_kinds,
}
_EXPECTED = {
    "name": "lowercase letters, digits and dashes",
    "kind": f"one of {', '.join(WindowKind.values)}",
    "timezone": "an IANA time zone name, e.g. Europe/Berlin",
    "start_date": "a date, e.g. 2026-12-12",
    "start_time": "a local time of day, e.g. 02:00",
    "duration_minutes": "a whole number of minutes",
    "rrule": "RRULE text, e.g. FREQ=MONTHLY;BYDAY=2SA",
    "exdates": 'a list of dates, e.g. ["2026-12-26"]',
    "cutoff_minutes": "a whole number of minutes",
    "enabled": "true or false",
    "description": "text",
    "webhook_url": "an https:// or http:// URL",
    "platforms": "a list of platform names",
    "profiles": "a list of profile names",
    "execution_flags": 'a list of execution flags, e.g. ["Production"]',
    "labels": 'an object of key to value, e.g. {"team": "payments"}',
    "approval_required": "true or false",
    "approval_kinds": f'a list of job kinds, e.g. ["migrate"]: {KIND_NAMES}',
}


# --------------------------------------------------------------------------- the scope


def _resolve(model: Any, names: list[Any], key: str, problems: Problems, **filters: Any) -> list:
    """Rows for ``names`` (names or rows) in the given order, one query; a problem at
    ``<key>/<n>`` for each unknown name."""
    wanted = [n.name if isinstance(n, model) else n for n in names]
    rows = {
        r.name: r
        for r in model.objects.filter(name__in=[w for w in wanted if isinstance(w, str)], **filters)
    }
    what = {"platforms": "platform", "profiles": "VPPD profile"}[key]
    found = []
    for index, name in enumerate(wanted):
        if not isinstance(name, str) or name not in rows:
            problems.append((f"{key}/{index}", f"no {what} named '{name}'"))
        elif rows[name] not in found:
            found.append(rows[name])
    return found


# --------------------------------------------------------------------------- cleaning


class _Cleaned:
    """A window's checked input: model fields, and the scope rows (None: unchanged)."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.platforms: list[Platform] | None = None
        self.profiles: list[Policy] | None = None


def _current_rule_fields(window: MaintenanceWindow | None) -> dict[str, Any]:
    if window is None:
        return {"rrule": "", "exdates": [], "cutoff_minutes": 0}
    return {
        "timezone": window.timezone,
        "start_date": window.start_date,
        "start_time": window.start_time,
        "duration_minutes": window.duration_minutes,
        "rrule": window.rrule,
        "exdates": [date.fromisoformat(d) for d in window.exdates or ()],
        "cutoff_minutes": window.cutoff_minutes,
    }


def _clean(data: Any, *, window: MaintenanceWindow | None) -> tuple[_Cleaned, Problems]:
    """Check ``data`` for a new window (``window`` None) or a change of ``window``."""
    cleaned = _Cleaned()
    if not isinstance(data, Mapping):
        return cleaned, [("", "an object of window settings")]
    problems: Problems = [
        (str(key), "not a window setting") for key in data if key not in EDITABLE_FIELDS
    ]
    if window is None:
        problems += [(key, "required") for key in REQUIRED_FIELDS if data.get(key) is None]
    values: dict[str, Any] = {}
    for key in EDITABLE_FIELDS:
        if key in data and not (window is None and key in REQUIRED_FIELDS and data[key] is None):
            before = len(problems)
            value = _clean_value(key, data[key], problems)
            if len(problems) == before:
                values[key] = value
    rule_problems = _rule_problems(values, window, bad=problems)
    problems += rule_problems
    problems += _approval_problems(values, window)
    if "name" in values and _name_taken(values["name"], window):
        problems.append(("name", f"a window named '{values['name']}' already exists"))
    if "platforms" in values:
        cleaned.platforms = _resolve(Platform, values.pop("platforms"), "platforms", problems)
    if "profiles" in values:
        cleaned.profiles = _resolve(
            Policy, values.pop("profiles"), "profiles", problems, kind=PolicyKind.VPPD
        )
    if "exdates" in values:
        values["exdates"] = sorted(d.isoformat() for d in values["exdates"])
    cleaned.fields = values
    return cleaned, problems


def _rule_problems(
    values: dict[str, Any], window: MaintenanceWindow | None, *, bad: Problems
) -> Problems:
    """The rule's problems, once each of its fields has a value of the right type."""
    fields = {
        **_current_rule_fields(window),
        **{k: v for k, v in values.items() if k in RULE_FIELDS},
    }
    failed = {path.split("/")[0] for path, _ in bad}
    if failed & set(RULE_FIELDS) or any(key not in fields for key in RULE_FIELDS):
        return []
    rule = WindowRule(
        tz=fields["timezone"],
        start_date=fields["start_date"],
        start_time=fields["start_time"],
        duration_minutes=fields["duration_minutes"],
        rrule=fields["rrule"],
        exdates=tuple(fields["exdates"]),
        cutoff_minutes=fields["cutoff_minutes"],
    )
    return validate_rule(rule)


def _approval_problems(values: dict[str, Any], window: MaintenanceWindow | None) -> Problems:
    """A blackout takes no work, so there is nothing in it to approve."""
    kind = values.get("kind", window.kind if window is not None else WindowKind.MAINTENANCE)
    required = values.get(
        "approval_required", window.approval_required if window is not None else False
    )
    if kind == WindowKind.BLACKOUT and required:
        return [
            (
                "approval_required",
                "a blackout takes no work, so nothing in it waits for an approval: "
                "approval is for maintenance windows",
            )
        ]
    return []


def _name_taken(name: str, window: MaintenanceWindow | None) -> bool:
    others = MaintenanceWindow.objects.filter(name=name)
    if window is not None:
        others = others.exclude(pk=window.pk)
    return others.exists()


def window_problems(
    data: Mapping[str, Any], *, window: MaintenanceWindow | None = None
) -> list[tuple[str, str]]:
    """Every problem of ``data`` for a new window (or a change of ``window``), as
    (path, message), without writing anything: for forms that show errors by field."""
    return _clean(data, window=window)[1]


# --------------------------------------------------------------------------- writes


@transaction.atomic
def window_create(*, user, data: Mapping[str, Any]) -> MaintenanceWindow:
    """A new window from ``data`` (the model's field names; ``platforms`` and
    ``profiles`` as names; dates and times as ``date``/``time`` or ISO text)."""
    _check_role(user)
    cleaned, problems = _clean(data, window=None)
    _raise(problems)
    return _create(user, cleaned, reason="window created")


def _create(user, cleaned: _Cleaned, *, reason: str) -> MaintenanceWindow:
    creator = user if user is not None and user.is_authenticated else None
    window = MaintenanceWindow(**cleaned.fields, created_by=creator)
    attribute_change(window, user=user, reason=reason)
    window.save_recorded(platforms=cleaned.platforms, profiles=cleaned.profiles)
    return window


@transaction.atomic
def window_update(*, user, window: MaintenanceWindow, data: Mapping[str, Any]) -> MaintenanceWindow:
    """Change the settings given in ``data`` (others stay). A change that changes
    nothing records nothing."""
    _check_role(user)
    row = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
    cleaned, problems = _clean(data, window=row)
    _raise(problems)
    return _apply(user, row, cleaned, reason_prefix="changed")


def _apply(
    user, row: MaintenanceWindow, cleaned: _Cleaned, *, reason_prefix: str
) -> MaintenanceWindow:
    changed = sorted(k for k, v in cleaned.fields.items() if getattr(row, k) != v)
    for key in SCOPE_RELATIONS:
        wanted = getattr(cleaned, key)
        if wanted is not None and {r.pk for r in wanted} != set(
            getattr(row, key).values_list("pk", flat=True)
        ):
            changed.append(key)
        elif wanted is not None:
            setattr(cleaned, key, None)
    if not changed:
        return row
    for key, value in cleaned.fields.items():
        setattr(row, key, value)
    attribute_change(row, user=user, reason=f"{reason_prefix}: " + ", ".join(sorted(changed)))
    row.save_recorded(platforms=cleaned.platforms, profiles=cleaned.profiles)
    return row


@transaction.atomic
def window_delete(*, user, window: MaintenanceWindow) -> None:
    """Delete the window; its history stays (the last row says who deleted it)."""
    _check_role(user)
    row = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
    attribute_change(row, user=user, reason="window deleted")
    row.delete()


# --------------------------------------------------------------------------- iCalendar


def window_data_fields(data: WindowData) -> dict[str, Any]:
    """A window read from iCalendar as the ``data`` the writes take."""
    rule = data.rule
    return {
        "name": data.name,
        "kind": data.kind,
        "timezone": rule.tz,
        "start_date": rule.start_date,
        "start_time": rule.start_time,
        "duration_minutes": rule.duration_minutes,
        "rrule": rule.rrule,
        "exdates": list(rule.exdates),
        "cutoff_minutes": rule.cutoff_minutes,
        "enabled": data.enabled,
        "description": data.description,
        "webhook_url": data.webhook_url,
        "platforms": list(data.scope.platforms),
        "profiles": list(data.scope.profiles),
        "execution_flags": list(data.scope.flags),
        "labels": dict(data.scope.labels),
        "approval_required": data.approval_required,
        "approval_kinds": list(data.approval_kinds),
    }


@transaction.atomic
def windows_import_ics(*, user, data: bytes, replace: bool = False) -> list[MaintenanceWindow]:
    """Create a window from each VEVENT of an .ics file, all or nothing.

    A window whose name exists already is refused, or with ``replace`` updated from the
    file (every setting, scope included); windows the file does not name stay as they
    are. Problems are reported per event: ``events/<n>/<field or PROPERTY>``.
    """
    _check_role(user)
    try:
        windows = from_ics(data)
    except IcsError as exc:
        raise ValidationError(
            [field_error(path, message) for path, message in exc.problems]
        ) from None
    if not windows:
        raise field_error("data", "the file holds no events (VEVENT) to import")
    existing = {
        w.name: w
        for w in MaintenanceWindow.objects.select_for_update().filter(
            name__in=[w.name for w in windows]
        )
    }
    problems: Problems = []
    plans: list[tuple[MaintenanceWindow | None, _Cleaned]] = []
    seen: set[str] = set()
    for index, window_data in enumerate(windows):
        prefix = f"events/{index}/"
        if window_data.name in seen:
            problems.append(
                (prefix + "SUMMARY", f"the file has two windows named '{window_data.name}'")
            )
            continue
        seen.add(window_data.name)
        current = existing.get(window_data.name)
        if current is not None and not replace:
            problems.append(
                (
                    prefix + "SUMMARY",
                    f"a window named '{window_data.name}' already exists (import with replace "
                    "to update it)",
                )
            )
            continue
        cleaned, event_problems = _clean(window_data_fields(window_data), window=current)
        problems += [(prefix + path, message) for path, message in event_problems]
        plans.append((current, cleaned))
    _raise(problems)
    return [
        _create(user, cleaned, reason="imported from iCalendar")
        if current is None
        else _apply(user, current, cleaned, reason_prefix="imported from iCalendar")
        for current, cleaned in plans
    ]


def windows_export_ics(windows: Iterable[MaintenanceWindow]) -> bytes:
    """The windows as an .ics file (anyone who may see them may export them)."""
    if isinstance(windows, QuerySet):
        windows = windows.prefetch_related("platforms", "profiles")
    return to_ics([w.data() for w in windows])
