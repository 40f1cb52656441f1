"""The one way the loaders write a row: find it by its identity, create it, or update it in place.

Updating in place keeps the row's id, so whatever points at it (a learner's responses, review state,
attempts) survives every edit of the files; a row that already holds the values is not written at all."""

from __future__ import annotations

from typing import NamedTuple

from django.db.models import Model


class Upserted(NamedTuple):
    row: Model
    outcome: str  # "created", "updated" or "unchanged"

    @property
    def changed(self) -> bool:
        return self.outcome != "unchanged"


NOT_LOOKED_UP = object()  # upsert's default ``row``: it looks the row up itself


def upsert(model: type[Model], lookup: dict, values: dict, *, row: Model | None | object = NOT_LOOKED_UP,
           create: dict | None = None) -> Upserted:
    """The row of ``model`` found by ``lookup`` set to ``values``: created from ``lookup``, ``values`` and
    ``create`` (fields only a new row gets) when there is none, saved when one of ``values`` differs, left
    alone otherwise. A caller that has already looked the row up passes it as ``row`` (None: there is none),
    which saves a query per row: loaders that read all of a question's parts or a deck's cards at once."""
    if row is NOT_LOOKED_UP:
        row = model.objects.filter(**lookup).first()
    if row is None:
        return Upserted(model.objects.create(**lookup, **values, **(create or {})), "created")
    if all(getattr(row, name) == value for name, value in values.items()):
        return Upserted(row, "unchanged")
    for name, value in values.items():
        setattr(row, name, value)
    row.save()
    return Upserted(row, "updated")
