"""Text the command line prints the same way everywhere: JSON as the API answers it,
times in UTC, aligned tables, a placement's verdict for one platform."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from operations_app.management.job_cli import Output


def print_json(out: Output, data: Any) -> None:
    out.write(json.dumps(data, indent=2, default=str))


def utc(value: datetime | str | None) -> str:
    """``2026-12-07 18:45 UTC`` (an ISO text is read first), or "-"."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def table(
    out: Output, header: Sequence[str], rows: Sequence[Sequence[str]], *, indent: str = ""
) -> None:
    """Aligned columns, two spaces apart; the last column is not padded."""
    cells_by_row = [list(header), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in cells_by_row) for i in range(len(header) - 1)]
    for row in cells_by_row:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.write((indent + "  ".join([*cells, row[-1]])).rstrip())


def verdict_text(verdict: dict[str, Any]) -> str:
    """One platform's verdict for one VM, as placement explained it."""
    if verdict.get("chosen"):
        return f"chosen (score {verdict.get('score')})"
    if verdict.get("refused_by"):
        return f"refused by {verdict['refused_by']}: {verdict.get('reason', '')}"
    reason = f", {verdict['reason']}" if verdict.get("reason") else ""
    return f"passed (score {verdict.get('score')})" + reason
