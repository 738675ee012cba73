"""The values a PrestaShop attribute group holds, in the shop's order, as the
combinations files of filebridge/sinks/prestashop_csv.py created them, so a later
file places its new values among them. PrestaShop's importer (AdminImportController
attributeImportOne) keeps the position a value is created with and renumbers the
group after each new one: a new value's position must be counted against the whole
group, not against this file's values alone.

A value counts once the file that created it is done: one from a file that failed
or crashed is ignored (the shop never got it), and taken over by the next file
that names it. Insertions never reorder the values already there, so a file's
order (``ord``) is written for all of them at its end. Portable SQL (``?``
placeholders, ``ON CONFLICT ... DO UPDATE``): the same statements run on the
PostgreSQL ledger.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_DONE = "EXISTS (SELECT 1 FROM files f WHERE f.id={}.file_id AND f.status='done')"


def load(ledger: Any, profile: str, sink: str) -> dict[str, list[tuple[str, int]]]:
    """Per option field, (value, declared position) in the shop's order, of the
    values done files created (a few per field: sizes, colours)."""
    out: dict[str, list[tuple[str, int]]] = {}
    for field, value, position in ledger.db.execute(
            "SELECT field, value, position FROM attribute_values a WHERE profile=? AND "
            "sink=? AND " + _DONE.format("a") + " ORDER BY field, ord",
            (profile, sink)).fetchall():
        out.setdefault(field, []).append((value, int(position)))
    return out


def save(ledger: Any, profile: str, sink: str, file_id: int,
         groups: Iterable[tuple[str, list[tuple[str, int]]]]) -> None:
    """A file's groups: per option field, (value, declared position) in shop order.
    A value a done file created keeps its file and position; its place is updated
    (the same relative order, new values in between)."""
    with ledger.tx() as db:
        for field, values in groups:
            for ord_, (value, position) in enumerate(values):
                db.execute(
                    "INSERT INTO attribute_values (profile, sink, field, value, ord, "
                    "position, file_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (profile, "
                    "sink, field, value) DO UPDATE SET ord=excluded.ord, position=CASE WHEN "
                    + _DONE.format("attribute_values") + " THEN attribute_values.position "
                    "ELSE excluded.position END, file_id=CASE WHEN "
                    + _DONE.format("attribute_values") + " THEN attribute_values.file_id "
                    "ELSE excluded.file_id END",
                    (profile, sink, field, value, ord_, position, file_id))
