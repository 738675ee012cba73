"""URL keys a Magento product file (filebridge/sinks/magento_csv.py) gave its
products, so a product in a later file whose key another product has is refused
before the importer refuses it. Magento's importer (CatalogImportExport
Product::checkUrlKeyDuplicates) looks every key up in ``url_rewrite`` and refuses
the row, with no suffix, when a rewrite of that path belongs to another SKU; the
rewrites a product's old keys left (permanent redirects) stay its own, so here a
key stays with the product that had it first.

A key counts once the file that wrote it is done: a claim from a file that failed
or crashed is ignored, and taken over by the next file to claim that key.
Portable SQL (``?`` placeholders, ``ON CONFLICT ... DO UPDATE ... WHERE``): the
same statements run on the PostgreSQL ledger.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_DONE = "EXISTS (SELECT 1 FROM files f WHERE f.id={}.file_id AND f.status='done')"


def owners(ledger: Any, profile: str, sink: str, keys: list[str]) -> dict[str, str]:
    """The products that have ``keys`` (those files that are done gave them)."""
    out: dict[str, str] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        out.update(ledger.db.execute(
            "SELECT url_key, product FROM url_keys u WHERE profile=? AND sink=? AND "
            f"url_key IN ({','.join('?' * len(chunk))}) AND " + _DONE.format("u"),
            (profile, sink, *chunk)).fetchall())
    return out


def claim(ledger: Any, profile: str, sink: str, file_id: int,
          rows: Iterable[tuple[str, str]]) -> None:
    """(url_key, product) written by a file; a key another done file gave is kept."""
    with ledger.tx() as db:
        for key, product in rows:
            db.execute(
                "INSERT INTO url_keys (profile, sink, url_key, product, file_id) VALUES "
                "(?, ?, ?, ?, ?) ON CONFLICT (profile, sink, url_key) DO UPDATE SET "
                "product=excluded.product, file_id=excluded.file_id WHERE NOT "
                + _DONE.format("url_keys"), (profile, sink, key, product, file_id))
