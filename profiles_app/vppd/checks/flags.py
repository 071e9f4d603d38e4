"""Execution flags (exactly one environment) and fixes (unique ids)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from profiles_app.jsondoc.errors import DocumentError
from profiles_app.vppd.checks.common import as_list, unique

ENVIRONMENT_FLAGS = ("Development", "Testing", "Production")


def check_flags(doc: dict, **_: Any) -> Iterator[DocumentError]:
    if "execution_flags" not in doc:
        return
    flags = [flag for flag in as_list(doc.get("execution_flags")) if isinstance(flag, str)]
    found = [flag for flag in flags if flag in ENVIRONMENT_FLAGS]
    wanted = "exactly one of Development, Testing or Production"
    if not found:
        lowered = {flag.lower(): flag for flag in ENVIRONMENT_FLAGS}
        near = [(flag, lowered[flag.lower()]) for flag in flags if flag.lower() in lowered]
        hint = f"; did you mean '{near[0][1]}' instead of '{near[0][0]}'?" if near else ""
        yield DocumentError("/execution_flags", f"must contain {wanted}{hint}")
    elif len(found) > 1:
        yield DocumentError("/execution_flags", f"must contain {wanted}, not {', '.join(found)}")


def check_fixes(doc: dict, **_: Any) -> Iterator[DocumentError]:
    yield from unique(as_list(doc.get("fixes")), "id", ("fixes",), "fix id")
