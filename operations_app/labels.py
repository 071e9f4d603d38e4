"""Labels: ``key=value`` strings on VMs and platforms (``team=payments``, ``rack=r12``)
that maintenance windows and scheduling policies select by.

The rules are Kubernetes' label rules, so labels copied from there fit:

- a key is a name with an optional prefix: ``[prefix/]name``. The name has 1 to 63
  characters of ``A-Z a-z 0-9 . _ -`` and starts and ends with a letter or digit; the
  prefix is a DNS subdomain (lowercase, dot-separated parts of ``a-z 0-9 -`` that start
  and end with a letter or digit, 253 characters at most);
- a value has 0 to 63 characters of the same set as a name and, when not empty, starts
  and ends with a letter or digit;
- an object has at most 64 labels.

Each problem comes with its path: ``labels/<key>`` for a label of a mapping (the key
escaped as in a JSON pointer: ``~`` as ``~0``, ``/`` as ``~1``), ``labels/<n>`` for the
n-th (from 0) ``key=value`` of a text form.

A selector picks objects by their labels: comma-separated requirements that must all
hold, ``key=value`` (the label has that value) or ``key`` (the object has the label).

Pure: no Django, no rows. The services check every change with :func:`label_errors`;
forms and the CLI parse text with :func:`parse_labels`, the list filters with
:func:`parse_selector`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_LABELS = 64
NAME_MAX = 63
VALUE_MAX = 63
PREFIX_MAX = 253

_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")

NAME_RULE = (
    f"1 to {NAME_MAX} letters, digits, '.', '_' or '-', starting and ending with a letter or digit"
)
VALUE_RULE = (
    f"at most {VALUE_MAX} letters, digits, '.', '_' or '-', starting and ending with a "
    "letter or digit (or empty)"
)
PREFIX_RULE = (
    f"a DNS subdomain of at most {PREFIX_MAX} characters: lowercase letters, digits, '-' "
    "and '.', each part starting and ending with a letter or digit"
)


@dataclass(frozen=True)
class LabelError:
    """A problem with a label: ``path`` is ``labels/<key>``, ``labels/<n>`` or ``label``."""

    path: str
    message: str


@dataclass(frozen=True)
class Requirement:
    """One part of a selector: the label ``key`` exists (``value`` None) or equals ``value``."""

    key: str
    value: str | None = None

    def __str__(self) -> str:
        return self.key if self.value is None else f"{self.key}={self.value}"


def pointer_token(key: str) -> str:
    """``key`` as one segment of a path (JSON pointer escaping)."""
    return key.replace("~", "~0").replace("/", "~1")


def key_problem(key: Any) -> str | None:
    """Why ``key`` is not a label key, or None."""
    if not isinstance(key, str):
        return "a label key is a string"
    if not key:
        return "a label key may not be empty"
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return f"key '{key}': the prefix before '/' may not be empty"
        if len(prefix) > PREFIX_MAX or not all(_DNS_LABEL.fullmatch(p) for p in prefix.split(".")):
            return f"key '{key}': the prefix '{prefix}' is not {PREFIX_RULE}"
        if not name:
            return f"key '{key}': the name after '/' may not be empty"
    if len(name) > NAME_MAX or not _NAME.fullmatch(name):
        return f"key '{key}': the name '{name}' is not {NAME_RULE}"
    return None


def value_problem(key: str, value: Any) -> str | None:
    """Why ``value`` is not a value for the label ``key``, or None."""
    if not isinstance(value, str):
        return f"the value of '{key}' must be a string, not {type(value).__name__}"
    if value and (len(value) > VALUE_MAX or not _NAME.fullmatch(value)):
        return f"the value '{value}' of '{key}' is not {VALUE_RULE}"
    return None


def label_errors(labels: Any, *, path: str = "labels") -> list[LabelError]:
    """Every problem of a ``{key: value}`` mapping of labels, each at ``path/<key>``;
    an empty list when the labels are valid."""
    if not isinstance(labels, Mapping):
        return [LabelError(path, 'labels are an object of key to value, e.g. {"team": "payments"}')]
    errors = []
    for key, value in labels.items():
        where = f"{path}/{pointer_token(str(key))}"
        problem = key_problem(key) or value_problem(key, value)
        if problem:
            errors.append(LabelError(where, problem))
    if len(labels) > MAX_LABELS:
        errors.append(
            LabelError(path, f"at most {MAX_LABELS} labels per object, not {len(labels)}")
        )
    return errors


def parse_labels(
    items: Iterable[str], *, path: str = "labels"
) -> tuple[dict[str, str], list[LabelError]]:
    """``key=value`` texts (a form's lines, the CLI's arguments) as a mapping, and the
    problems of each at ``path/<n>``. Blank items are skipped (their number still counts);
    ``key=`` is the empty value."""
    labels: dict[str, str] = {}
    errors: list[LabelError] = []
    for index, raw in enumerate(items):
        text = raw.strip()
        if not text:
            continue
        where = f"{path}/{index}"
        key, eq, value = text.partition("=")
        key, value = key.strip(), value.strip()
        if not eq:
            errors.append(LabelError(where, f"'{text}' is not key=value"))
            continue
        problem = key_problem(key) or value_problem(key, value)
        if problem:
            errors.append(LabelError(where, problem))
        elif key in labels:
            errors.append(LabelError(where, f"the label '{key}' is given twice"))
        else:
            labels[key] = value
    if len(labels) > MAX_LABELS:
        errors.append(
            LabelError(path, f"at most {MAX_LABELS} labels per object, not {len(labels)}")
        )
    return labels, errors


def parse_keys(items: Iterable[str], *, path: str = "remove") -> tuple[list[str], list[LabelError]]:
    """Label keys (of labels to remove), and the problems of each at ``path/<n>``."""
    keys: list[str] = []
    errors: list[LabelError] = []
    for index, raw in enumerate(items):
        key = raw.strip()
        problem = key_problem(key)
        if problem:
            errors.append(LabelError(f"{path}/{index}", problem))
        elif key not in keys:
            keys.append(key)
    return keys, errors


def parse_selector(text: str, *, path: str = "label") -> tuple[list[Requirement], list[LabelError]]:
    """A selector (``team=payments,rack``) as its requirements, and its problems at
    ``path``. An empty selector has no requirements (it selects everything)."""
    requirements: list[Requirement] = []
    errors: list[LabelError] = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        problem = key_problem(key) or (value_problem(key, value) if eq else None)
        if problem:
            errors.append(LabelError(path, f"'{part}' is not key or key=value: {problem}"))
            continue
        requirement = Requirement(key, value if eq else None)
        if requirement not in requirements:
            requirements.append(requirement)
    return requirements, errors


def selector_matches(labels: Mapping[str, str] | None, requirements: Iterable[Requirement]) -> bool:
    """Whether ``labels`` meet every requirement."""
    labels = labels or {}
    return all(
        r.key in labels and (r.value is None or labels[r.key] == r.value) for r in requirements
    )


def merged_labels(
    current: Mapping[str, str] | None,
    changes: Mapping[str, str],
    *,
    remove: Iterable[str] = (),
    replace: bool = False,
) -> dict[str, str]:
    """The labels after a change: ``changes`` set (over the current ones, or instead of
    them with ``replace``), then the ``remove`` keys gone. Sorted by key."""
    result = {} if replace else dict(current or {})
    result.update(changes)
    for key in remove:
        result.pop(key, None)
    return dict(sorted(result.items()))


def labels_text(labels: Mapping[str, str] | None, *, separator: str = ", ") -> str:
    """``key=value`` of each label, sorted by key."""
    return separator.join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
