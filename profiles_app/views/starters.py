"""The documents a new policy may start from: its kind's starter, or one of the kind's
example files, with the names of windows and platforms they mention made to name ones
that exist here where they can."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from operations_app.models.windows import WindowKind
from operations_app.selectors.platforms import platform_names
from operations_app.selectors.windows import window_list
from profiles_app.kinds import get_kind
from profiles_app.models import PolicyKind
from profiles_app.views.common import KindPages

STARTER = ""  # the choice that means the kind's starter document


@dataclass(frozen=True)
class Example:
    key: str  # the file's name without .json
    name: str  # the document's name
    description: str
    document: dict = field(repr=False)


@dataclass(frozen=True)
class StartingPoint:
    document: dict
    example: str  # the example's key, or STARTER
    adjusted: list[str]  # what was changed to fit this installation, in words


def examples(pages: KindPages) -> list[Example]:
    """The kind's example documents, by file name; a file that is not a JSON object is
    left out."""
    if pages.examples_dir is None or not pages.examples_dir.is_dir():
        return []
    found = []
    for path in sorted(pages.examples_dir.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(document, dict):
            found.append(
                Example(
                    key=path.stem,
                    name=str(document.get("name", path.stem)),
                    description=str(document.get("description", "")),
                    document=document,
                )
            )
    return found


def starting_point(pages: KindPages, example: str = STARTER) -> StartingPoint:
    """The kind's starter, or the example named ``example`` (the starter when there is
    no such example)."""
    chosen = next((e for e in examples(pages) if e.key == example), None) if example else None
    document = chosen.document if chosen else get_kind(pages.kind).starter()
    adjusted: list[str] = []
    if pages.kind == PolicyKind.SCHEDULING:
        document, adjusted = fit_scheduling_names(document)
    return StartingPoint(
        document=document, example=chosen.key if chosen else STARTER, adjusted=adjusted
    )


def fit_scheduling_names(document: dict) -> tuple[dict, list[str]]:
    """``document`` with its window and the platforms it evacuates renamed to an
    enabled maintenance window and platforms that exist, when the names it has do not
    and there are some; and what was changed, in words."""
    document = json.loads(json.dumps(document))
    adjusted: list[str] = []
    window = document.get("window")
    if isinstance(window, str):
        windows = list(
            window_list(enabled=True, kind=WindowKind.MAINTENANCE).values_list("name", flat=True)
        )
        if windows and window not in windows:
            document["window"] = windows[0]
            adjusted.append(f"window '{window}' does not exist here: '{windows[0]}' instead")
    evacuate: Any = (document.get("evacuation") or {}).get("platforms") or {}
    named = evacuate.get("platforms") if isinstance(evacuate, dict) else None
    if isinstance(named, list) and named:
        existing = platform_names()
        missing = [n for n in named if n not in existing]
        if existing and missing:
            kept = [n for n in named if n in existing] or existing[:1]
            evacuate["platforms"] = kept
            adjusted.append(
                f"platform {', '.join(missing)} to evacuate does not exist here: "
                f"{', '.join(kept)} instead"
            )
    return document, adjusted
