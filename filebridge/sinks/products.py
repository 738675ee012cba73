"""Grouping SKU rows into products for the shop sinks, with bounded memory.

Rows of one product may be anywhere in the file, so :class:`ProductGrouper` spools
them to a temporary SQLite file and hands back one product at a time in
first-seen order: memory holds the largest product, not the file.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.mapping import OptionSpec
from filebridge.records import Batch


def blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def text(v: Any) -> str:
    """A value as import-file text: exact decimals, ISO dates, lists comma-joined."""
    if type(v) is str:
        return v
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, list):
        return ", ".join(text(x) for x in v if not blank(x))
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _has_data(col: pa.Array) -> bool:
    if col.null_count == len(col):
        return False
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return bool(pc.any(pc.not_equal(pc.utf8_trim_whitespace(col), "")).as_py())
    return True


class ProductGrouper:
    """Rows spooled to SQLite, given back grouped by product key in first-seen order."""

    def __init__(self, key: str, sku: str, options: list[OptionSpec],
                 max_options: int | None = None):
        self.key, self.sku, self.options, self.max_options = key, sku, options, max_options
        self.present: set[str] = set()  # fields holding data in at least one row
        self._dir = tempfile.TemporaryDirectory(prefix="filebridge-products-")
        self.db = sqlite3.connect(os.path.join(self._dir.name, "rows.db"))
        # A scratch file: losing it in a crash loses nothing, so no journal or fsync.
        self.db.executescript("""
            PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
            CREATE TABLE products (ord INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE);
            CREATE TABLE rows (k TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL);
            """)
        self.seq = 0

    def add(self, batch: Batch) -> None:
        if not len(batch):
            return
        for name in batch.names:
            if name not in self.present and _has_data(batch.column(name)):
                self.present.add(name)
        if self.key not in batch.names:
            raise ValueError(f"product key field {self.key!r} is not in the records "
                             f"({', '.join(batch.names)})")
        keys = text_keys(batch.column(self.key))
        lines = batch.lines.to_pylist()
        for k, line in zip(keys, lines):
            if k is None:
                raise ValueError(f"line {line}: the product key ({self.key}) is empty")
        # One blob per product and batch: products are mostly contiguous in ERP
        # exports, so this is about one insert and one pickle per product.
        groups: dict[str, tuple[list[int], list[dict[str, Any]]]] = {}
        for k, ln, r in zip(keys, lines, batch.rows()):
            g = groups.setdefault(k, ([], []))  # type: ignore[arg-type]
            g[0].append(ln)
            g[1].append(r)
        self.db.executemany("INSERT OR IGNORE INTO products (k) VALUES (?)",
                            [(k,) for k in groups])
        self.db.executemany("INSERT INTO rows VALUES (?, ?, ?)",
                            [(k, self.seq + i, pickle.dumps(g, 5))
                             for i, (k, g) in enumerate(groups.items())])
        self.seq += len(groups)

    def products(self, strict: bool = True) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """``(key, rows)`` per product; with ``strict`` a product with problems raises."""
        self.db.execute("CREATE INDEX IF NOT EXISTS rows_k ON rows (k, seq)")
        cur = self.db.execute("SELECT p.k, r.data FROM products p "
                              "JOIN rows r ON r.k = p.k ORDER BY p.ord, r.seq")
        key, rows, lines = None, [], []  # type: ignore[var-annotated]
        for k, data in cur:
            if k != key and rows:
                yield self._checked(key, rows, lines, strict)  # type: ignore[arg-type]
                rows, lines = [], []
            key = k
            more_lines, more_rows = pickle.loads(data)  # our own scratch file: trusted
            lines += more_lines
            rows += more_rows
        if rows:
            yield self._checked(key, rows, lines, strict)  # type: ignore[arg-type]

    def _checked(self, key: str, rows: list[dict[str, Any]], lines: list[int],
                 strict: bool) -> tuple[str, list[dict[str, Any]]]:
        problems = self.problems(key, rows, lines) if strict else []
        if problems:
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise ValueError("; ".join(problems[:5]) + more)
        return key, rows

    def used_options(self, rows: list[dict[str, Any]]) -> list[OptionSpec]:
        """The options this product's variants actually fill in."""
        return [o for o in self.options if any(not blank(r.get(o.field)) for r in rows)]

    def problems(self, key: str, rows: list[dict[str, Any]], lines: list[int]) -> list[str]:
        out: list[str] = []
        seen: dict[str, int] = {}
        for r, ln in zip(rows, lines):
            sku = r.get(self.sku)
            if blank(sku):
                out.append(f"product {key}, line {ln}: the SKU ({self.sku}) is empty")
            elif text(sku) in seen:
                out.append(f"product {key}: SKU {text(sku)} appears twice (lines "
                           f"{seen[text(sku)]} and {ln})")
            else:
                seen[text(sku)] = ln
        used = self.used_options(rows)
        if self.max_options is not None and len(used) > self.max_options:
            out.append(f"product {key}: {len(used)} options, at most {self.max_options}")
        if len(rows) > 1 and not used and self.options:
            out.append(f"product {key}: {len(rows)} SKUs without option values to tell "
                       "them apart")
        combos: dict[tuple[str, ...], str] = {}
        for r, ln in zip(rows, lines if used else []):
            sku = text(r.get(self.sku))
            for o in used:
                if blank(r.get(o.field)):
                    out.append(f"product {key}: SKU {sku} (line {ln}) has no {o.label}")
            combo = tuple(text(r.get(o.field)) for o in used)
            if combo in combos:
                shown = ", ".join(f"{o.label}={v}" for o, v in zip(used, combo))
                out.append(f"product {key}: SKUs {combos[combo]} and {sku} have the same "
                           f"options ({shown})")
            combos.setdefault(combo, sku)
        return out

    def close(self) -> None:  # idempotent: called after finish and on failure
        self.db.close()
        self._dir.cleanup()


def text_keys(col: pa.Array) -> list[str | None]:
    t = col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
    return [None if blank(k) else k for k in t.to_pylist()]
