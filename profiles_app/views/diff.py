"""Comparing two versions of a policy: side by side, and as a list of changes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from profiles_app import selectors
from profiles_app.diff import document_diff, side_by_side
from profiles_app.documents import REDACTED, pretty_json
from profiles_app.models import VersionStatus
from profiles_app.views.common import kind_pages, policy_or_404


def _number(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise Http404("A version number is a whole number.") from exc


def _display(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return pretty_json(value, kind=kind)
    return json.dumps(value, ensure_ascii=False)


def _has_secret(value: Any) -> bool:
    if value == REDACTED:
        return True
    if isinstance(value, dict):
        return any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


DIFF_CONTEXT = 3


@dataclass(frozen=True)
class _Fold:
    """Unchanged lines left out of the side-by-side view."""

    count: int
    kind: str = "skip"


def fold_unchanged(rows: list, context: int = DIFF_CONTEXT) -> list:
    """Keep changed rows and ``context`` rows around them; fold longer unchanged runs."""
    if all(row.kind == "equal" for row in rows):
        return rows
    out: list = []
    i = 0
    while i < len(rows):
        if rows[i].kind != "equal":
            out.append(rows[i])
            i += 1
            continue
        j = i
        while j < len(rows) and rows[j].kind == "equal":
            j += 1
        run = rows[i:j]
        head = context if i > 0 else 0
        tail = context if j < len(rows) else 0
        if len(run) > head + tail + 1:
            out.extend(run[:head])
            out.append(_Fold(len(run) - head - tail))
            out.extend(run[len(run) - tail :])
        else:
            out.extend(run)
        i = j
    return out


@login_required
def policy_diff(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    pages = kind_pages(kind)
    policy = policy_or_404(pages, name)
    versions = list(selectors.version_list(policy=policy))
    by_number = {v.number: v for v in versions}
    a_no, b_no = _number(request.GET.get("a")), _number(request.GET.get("b"))
    if b_no is None and versions:
        b_no = versions[0].number
    b = by_number.get(b_no) if b_no is not None else None
    if b is None:
        raise Http404(f"No version {b_no} of {pages.noun} '{name}'.")
    if a_no is None:
        fallback = b.parent or next(
            (v for v in versions if v.status == VersionStatus.APPROVED and v != b), None
        )
        a_no = fallback.number if fallback else b.number
    a = by_number.get(a_no)
    if a is None:
        raise Http404(f"No version {a_no} of {pages.noun} '{name}'.")
    changes = [
        {
            "pointer": c.pointer or "/",
            "kind": c.kind,
            "secret": _has_secret(c.old) or _has_secret(c.new),
            "old": _display(c.old, policy.kind),
            "new": _display(c.new, policy.kind),
        }
        for c in document_diff(a.document, b.document)
    ]
    rows = side_by_side(a.document, b.document, kind=policy.kind)
    full = request.GET.get("full") == "1"
    return render(
        request,
        "profiles_app/diff.html",
        {
            "pages": pages,
            "policy": policy,
            "a": a,
            "b": b,
            "versions": versions,
            "rows": rows if full else fold_unchanged(rows),
            "full": full,
            "line_count": len(rows),
            "changes": changes,
            "diff_url": pages.url("diff", policy.name),
        },
    )
