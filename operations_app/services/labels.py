"""Labels on VMs and platforms: every change goes through here.

Pages, the API, the admin and the CLI call these with the person asking, who needs the
operators role; ``user=None`` is the system itself (root's CLI without ``--as``). The
rules are :mod:`operations_app.labels`; an invalid label answers a ``ValidationError``
whose path names it (``labels/team``). A change is one history record, "labels
changed", by that user; a change that changes nothing records nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from operations_app.labels import MAX_LABELS, key_problem, label_errors, merged_labels
from operations_app.models import ManagedVM, Platform
from vmpersona.errors import field_error
from vmpersona.history import attribute_change
from vmpersona.roles import OPERATORS, require_role

HISTORY_REASON = "labels changed"


def _check_role(user) -> None:
    if user is not None:
        require_role(user, OPERATORS, "change labels")


def _checked_change(
    current: Mapping[str, str] | None,
    labels: Any,
    *,
    remove: Iterable[str],
    replace: bool,
) -> dict[str, str]:
    """The labels after the change, or a ``ValidationError`` naming each problem."""
    problems = [field_error(e.path, e.message) for e in label_errors(labels)]
    keys = list(remove)
    for index, key in enumerate(keys):
        problem = key_problem(key)
        if problem:
            problems.append(field_error(f"remove/{index}", problem))
        elif isinstance(labels, Mapping) and key in labels:
            problems.append(field_error(f"remove/{index}", f"'{key}' is both set and removed"))
    if problems:
        raise ValidationError(problems)
    result = merged_labels(current, labels, remove=keys, replace=replace)
    if len(result) > MAX_LABELS:
        raise field_error(
            "labels", f"at most {MAX_LABELS} labels per object; this would make {len(result)}"
        )
    return result


def _change(obj: ManagedVM | Platform, user, labels, *, remove, replace) -> Any:
    _check_role(user)
    row = type(obj).objects.select_for_update().get(pk=obj.pk)
    result = _checked_change(row.labels, labels, remove=remove, replace=replace)
    if result != (row.labels or {}):
        row.labels = result
        attribute_change(row, reason=HISTORY_REASON, user=user)
        row.save()
    obj.labels = row.labels
    return obj


@transaction.atomic
def vm_labels_set(
    *,
    user,
    vm: ManagedVM,
    labels: Mapping[str, str],
    replace: bool = False,
    remove: Iterable[str] = (),
) -> ManagedVM:
    """Set the VM's ``labels`` (over its others, or instead of them with ``replace``)
    and drop the ``remove`` keys (absent ones are ignored). Returns ``vm``, its
    ``labels`` updated."""
    return _change(vm, user, labels, remove=remove, replace=replace)


def vm_labels_remove(*, user, vm: ManagedVM, keys: Iterable[str]) -> ManagedVM:
    """Drop the VM's labels of these keys (absent ones are ignored)."""
    return vm_labels_set(user=user, vm=vm, labels={}, remove=keys)


@transaction.atomic
def platform_labels_set(
    *,
    user,
    platform: Platform,
    labels: Mapping[str, str],
    replace: bool = False,
    remove: Iterable[str] = (),
) -> Platform:
    """Set the platform's ``labels`` as :func:`vm_labels_set` does a VM's."""
    return _change(platform, user, labels, remove=remove, replace=replace)


def platform_labels_remove(*, user, platform: Platform, keys: Iterable[str]) -> Platform:
    """Drop the platform's labels of these keys (absent ones are ignored)."""
    return platform_labels_set(user=user, platform=platform, labels={}, remove=keys)
