"""Durations and sizes, written one way wherever they are read: pages, emails and
notifications, step outputs and log lines, the command line (static/js/job_live.js
writes the live figures the same way).

Durations: ``850 ms``, ``11.4 s``, ``2 min 5 s``, ``1 h 5 min``, ``2 days 3 h`` (the
units of ``windows.text.span``). Sizes: IEC units, ``512 B``, ``1.5 GiB``.
"""

from __future__ import annotations

from typing import Any

UNKNOWN = "—"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" + ("s" if count != 1 else "")


def duration_text(seconds: Any, *, whole: bool = False, unknown: str = UNKNOWN) -> str:
    """``seconds`` as 850 ms, 11.4 s, 2 min 5 s, 1 h 5 min or 2 days 3 h.

    ``whole`` (a countdown, a period in whole seconds): 42 s rather than 42.0 s, and
    nothing below a second."""
    if not is_number(seconds):
        return unknown
    seconds = max(0.0, float(seconds))
    if whole:
        seconds = float(int(seconds))
    elif seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if round(seconds, 1) < 60:
        return f"{int(seconds)} s" if whole else f"{seconds:.1f} s"
    total = int(round(seconds))
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {secs} s" if secs else "")
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return _plural(days, "day") + (f" {hours} h" if hours else "")


def ms_text(value: Any, *, unknown: str = UNKNOWN) -> str:
    """Milliseconds (as libvirt and the migration figures hold them) as ``duration_text``
    writes seconds: 37 ms, 8.4 s, 2 min 5 s."""
    if not is_number(value):
        return unknown
    return duration_text(value / 1000)


def size_text(value: Any, suffix: str = "", *, unknown: str = UNKNOWN) -> str:
    """Bytes in IEC units: 512 B, 1.5 GiB, and with ``suffix`` 1.0 MiB/s."""
    if not is_number(value):
        return unknown
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(amount) < 1024 or unit == "TiB":
            text = f"{amount:.0f}" if unit == "B" else f"{amount:.1f}"
            return f"{text} {unit}{suffix}"
        amount /= 1024
    return unknown  # pragma: no cover - the loop always returns
