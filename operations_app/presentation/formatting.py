"""Sizes, durations and percentages as pages and the command line write them.

Each takes what a row or a stored result holds and returns text; anything unknown reads
as ``unknown`` ("—" on the pages, the command line passes "-"). Durations and sizes are
``vmpersona.units``'s, the one way they are written everywhere (the worker's step
outputs and notifications too).
"""

from __future__ import annotations

from vmpersona.units import UNKNOWN, duration_text, ms_text, size_text

__all__ = [
    "UNKNOWN",
    "duration_text",
    "mib_text",
    "ms_text",
    "percent",
    "percent_text",
    "rate_text",
    "size_text",
]


def mib_text(value: float | None) -> str:
    """A MiB figure in IEC units (2048 -> 2.0 GiB)."""
    return UNKNOWN if value is None else size_text(value * 1024 * 1024)


def rate_text(value: float | None) -> str:
    """Bytes per second in IEC units: 1.0 KiB/s."""
    return size_text(value, "/s")


def percent(part: float, whole: float) -> float | None:
    """``part`` as a percentage of ``whole``, to one decimal; None when ``whole`` is 0."""
    if not whole:
        return None
    return round(100.0 * part / whole, 1)


def percent_text(value: float | None) -> str:
    """A percentage as 12.5 %."""
    return UNKNOWN if value is None else f"{value:.1f} %"
