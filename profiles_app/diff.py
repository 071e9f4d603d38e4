"""Structured differences between two documents, keyed by JSON pointer.

Lists are compared element by element, except lists of objects that all carry a unique
``name`` (or ``id``): those are matched by that key, so inserting an application does not
show every later one as changed. Values under an encryption ``key`` are never shown.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from typing import Any

from profiles_app.documents import REDACTED, pretty_json, redact_document

SECRET_LEAVES = {"key"}


@dataclass(frozen=True)
class Change:
    pointer: str
    kind: str  # added | removed | changed
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict:
        return asdict(self)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _is_secret(pointer: str) -> bool:
    parts = pointer.split("/")
    return len(parts) >= 2 and parts[-1] in SECRET_LEAVES and parts[-2] == "encryption"


def _identity_key(items: list) -> str | None:
    for key in ("name", "id"):
        if items and all(isinstance(i, dict) and isinstance(i.get(key), str) for i in items):
            values = [i[key] for i in items]
            if len(set(values)) == len(values):
                return key
    return None


def _walk(old: Any, new: Any, pointer: str, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            child = f"{pointer}/{_escape(str(key))}"
            if key not in new:
                out.append(Change(child, "removed", old=old[key]))
            elif key not in old:
                out.append(Change(child, "added", new=new[key]))
            else:
                _walk(old[key], new[key], child, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        ident = _identity_key(old) if old else None
        if ident and new and _identity_key(new) == ident:
            old_by = {i[ident]: (n, i) for n, i in enumerate(old)}
            new_by = {i[ident]: (n, i) for n, i in enumerate(new)}
            for n, item in enumerate(new):
                if item[ident] in old_by:
                    _walk(old_by[item[ident]][1], item, f"{pointer}/{n}", out)
                else:
                    out.append(Change(f"{pointer}/{n}", "added", new=item))
            for item_key, (n, item) in old_by.items():
                if item_key not in new_by:
                    out.append(Change(f"{pointer}/{n}", "removed", old=item))
            return
        for n in range(max(len(old), len(new))):
            child = f"{pointer}/{n}"
            if n >= len(new):
                out.append(Change(child, "removed", old=old[n]))
            elif n >= len(old):
                out.append(Change(child, "added", new=new[n]))
            else:
                _walk(old[n], new[n], child, out)
        return
    if old != new or type(old) is not type(new):
        out.append(Change(pointer, "changed", old=old, new=new))


def _redact_change(change: Change) -> Change:
    if _is_secret(change.pointer):
        return Change(
            change.pointer,
            change.kind,
            REDACTED if change.old is not None else None,
            REDACTED if change.new is not None else None,
        )
    old = _redact_value(change.old)
    new = _redact_value(change.new)
    return Change(change.pointer, change.kind, old, new)


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (REDACTED if k in SECRET_LEAVES and "enabled" in value else _redact_value(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value


def document_diff(old: Any, new: Any) -> list[Change]:
    out: list[Change] = []
    _walk(old, new, "", out)
    return [_redact_change(c) for c in out]


@dataclass(frozen=True)
class SideBySideRow:
    kind: str  # equal | replace | delete | insert
    left_no: int | None
    left: str
    right_no: int | None
    right: str


def side_by_side(old: Any, new: Any, *, kind: str) -> list[SideBySideRow]:
    """Rows of pretty-printed JSON for a two-column view with changed lines marked."""
    left = pretty_json(redact_document(old, kind=kind), kind=kind).splitlines()
    right = pretty_json(redact_document(new, kind=kind), kind=kind).splitlines()
    rows: list[SideBySideRow] = []
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                rows.append(
                    SideBySideRow("equal", i1 + k + 1, left[i1 + k], j1 + k + 1, right[j1 + k])
                )
            continue
        span = max(i2 - i1, j2 - j1)
        for k in range(span):
            li = i1 + k if i1 + k < i2 else None
            rj = j1 + k if j1 + k < j2 else None
            kind = (
                tag
                if tag != "replace"
                else (
                    "replace"
                    if li is not None and rj is not None
                    else ("delete" if rj is None else "insert")
                )
            )
            rows.append(
                SideBySideRow(
                    kind,
                    li + 1 if li is not None else None,
                    left[li] if li is not None else "",
                    rj + 1 if rj is not None else None,
                    right[rj] if rj is not None else "",
                )
            )
    return rows
