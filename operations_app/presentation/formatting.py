"""Sizes, durations and percentages as pages and the command line write them.

Each takes what a row or a stored result holds and returns text; anything unknown reads
as ``unknown`` ("—" on the pages, the command line passes "-").
"""

from __future__ import annotations

from typing import Any

UNKNOWN = "—"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def size_text(value: Any, suffix: str = "", *, unknown: str = UNKNOWN) -> str:
    """Bytes in IEC units: 512 B, 1.5 GiB, and with ``suffix`` 1.0 MiB/s."""
    if not _is_number(value):
        return unknown
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(amount) < 1024 or unit == "TiB":
            text = f"{amount:.0f}" if unit == "B" else f"{amount:.1f}"
            return f"{text} {unit}{suffix}"
        amount /= 1024
    return unknown  # pragma: no cover - the loop always returns


def mib_text(value: float | None) -> str:
    """A MiB figure in IEC units (2048 -> 2.0 GiB)."""
    return UNKNOWN if value is None else size_text(value * 1024 * 1024)


def rate_text(value: float | None) -> str:
    """Bytes per second in IEC units: 1.0 KiB/s."""
    return size_text(value, "/s")


def duration_text(seconds: float | None, *, sep: str = " ", unknown: str = UNKNOWN) -> str:
    """Seconds as 4.2s, 45s, 3m 05s or 2h 03m (``sep`` between the parts)."""
    if seconds is None:
        return unknown
    if seconds < 10:
        return f"{seconds:.1f}s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{sep}{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{sep}{minutes:02d}m"


def ms_text(value: Any) -> str:
    """Milliseconds as 850 ms, 12.3 s or 2m 05s; "—" when unknown."""
    if not _is_number(value):
        return UNKNOWN
    if value < 1000:
        return f"{value:.0f} ms"
    seconds = value / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m {rest:02d}s"


def percent(part: float, whole: float) -> float | None:
    """``part`` as a percentage of ``whole``, to one decimal; None when ``whole`` is 0."""
    if not whole:
        return None
    return round(100.0 * part / whole, 1)


def percent_text(value: float | None) -> str:
    """A percentage as 12.5 %."""
    return UNKNOWN if value is None else f"{value:.1f} %"
