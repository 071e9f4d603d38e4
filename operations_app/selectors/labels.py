"""Picking VMs and platforms by their labels: the lists' ``label`` filter."""

from __future__ import annotations

from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.db.models.fields.json import KeyTransform

from operations_app.labels import parse_selector
from vmpersona.errors import field_error

M = TypeVar("M", bound=Model)


def labels_filter(qs: QuerySet[M], selector: str, *, path: str = "label") -> QuerySet[M]:
    """``qs`` narrowed to the rows whose ``labels`` meet every requirement of the
    ``selector`` (``team=payments,rack``: the label team is payments and rack exists);
    invalid input at ``path`` when the selector is not one. Still one query."""
    requirements, errors = parse_selector(selector, path=path)
    if errors:
        raise ValidationError([field_error(e.path, e.message) for e in errors])
    for index, requirement in enumerate(requirements):
        if requirement.value is None:
            qs = qs.filter(labels__has_key=requirement.key)
        else:
            alias = f"_label_{index}"
            qs = qs.alias(**{alias: KeyTransform(requirement.key, "labels")}).filter(
                **{alias: requirement.value}
            )
    return qs
