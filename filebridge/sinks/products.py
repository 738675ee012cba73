"""SKU rows -> products with variants, for the shop sinks, with bounded memory.

Shop sinks read mapped records through *canonical* field names; a sink's
``fields`` option maps a canonical name to the mapped field holding it (default:
the same name). Product level (taken from the first of the product's rows that has
a value): ``title``, ``description``, ``vendor``, ``product_type``, ``category``,
``tags`` (comma list), ``status`` (active/draft/archived), ``published`` (boolean),
``handle`` (Shopify). Variant level: ``sku`` (required), ``barcode``, ``price``,
``compare_at_price``, ``stock`` (integer), ``weight`` (grams), ``image`` (URL).

Rows of one product may be anywhere in the file, so :class:`ProductGrouper` spools
them to a temporary SQLite file and hands back one product at a time in
first-seen order: memory holds the largest product, not the file.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import string
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, BinaryIO
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator

from filebridge.mapping import OptionSpec
from filebridge.records import Batch
from filebridge.sinks.base import FileSinkOptions, SinkContext, csv_lines, header_line

PRODUCT_FIELDS = ("title", "description", "vendor", "product_type", "category", "tags",
                  "status", "published", "handle")
VARIANT_FIELDS = ("sku", "barcode", "price", "compare_at_price", "stock", "weight", "image")
CANONICAL = PRODUCT_FIELDS + VARIANT_FIELDS


class ShopSinkOptions(FileSinkOptions):
    """Options every shop import file has."""

    fields: dict[str, str] = Field(default_factory=dict, description="canonical name -> "
                                   "mapped field holding it, where they differ, e.g. {title: "
                                   "descr, stock: qty}; canonical: " + ", ".join(CANONICAL))
    images: str | None = Field(None, description="image URL pattern over record fields, e.g. "
                               "'https://cdn.example.com/img/{article}_{colour}.jpg' (values "
                               "URL-encoded); an image field, when filled, wins")

    @field_validator("fields")
    @classmethod
    def _canonical(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(CANONICAL))
        if unknown:
            raise ValueError(f"unknown canonical field(s) {', '.join(unknown)}; known: "
                             + ", ".join(CANONICAL))
        return v

    @field_validator("images")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None and not pattern_fields(v):
            raise ValueError("the images pattern names no field, e.g. {article}")
        return v


def pattern_fields(pattern: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(pattern) if name]
    except ValueError as e:
        raise ValueError(f"bad pattern {pattern!r}: {e}") from None


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


def money(v: Any, what: str, sku: str = "") -> Decimal | None:
    """Prices as Decimal: never through float arithmetic (a float is taken by its repr)."""
    if v is None or type(v) is Decimal and v.is_finite():
        return v
    if blank(v):
        return None
    try:
        d = v if isinstance(v, Decimal) else Decimal(str(v).strip())
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite():
        raise ValueError(f"{'SKU ' + sku + ': ' if sku else ''}{what} {v!r} is not a number "
                         "with a '.' decimal point (add type: decimal to the mapping)")
    return d


def integer(v: Any, what: str, sku: str = "") -> int | None:
    if v is None or type(v) is int:
        return v
    d = money(v, what, sku)
    if d is None:
        return None
    if d != d.to_integral_value():
        raise ValueError(f"{'SKU ' + sku + ': ' if sku else ''}{what} {v!r} is not a whole "
                         "number")
    return int(d)


def boolean(v: Any) -> bool | None:
    if blank(v):
        return None
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "y", "t", "s", "si", "sì")
    return bool(v)


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


@dataclass
class Product:
    """One product's rows, read through canonical names."""

    key: str
    rows: list[dict[str, Any]]
    options: list[OptionSpec]  # the options in use, in order
    f: dict[str, str]
    urls: list[str | None]  # each row's image

    def get(self, row: dict[str, Any], name: str) -> Any:
        return row.get(self.f[name])

    def first(self, name: str) -> Any:
        return next((v for r in self.rows if not blank(v := self.get(r, name))), None)

    def images(self) -> list[str]:
        """The product's images: distinct URLs in first-seen order."""
        return list(dict.fromkeys(u for u in self.urls if u))


@lru_cache(maxsize=4096)  # an article's code recurs in all its variants' URLs
def _quoted(value: str) -> str:
    return quote(value, safe="")


class ShopRecords:
    """Grouping plus canonical access: what both shop CSV sinks build per file."""

    def __init__(self, o: ShopSinkOptions, ctx: SinkContext, max_options: int | None = None):
        self.f = {c: o.fields.get(c, c) for c in CANONICAL}
        self.pattern = o.images
        self.pattern_fields = pattern_fields(o.images or "")
        self.spec = ctx.product
        key = self.spec.key if self.spec else self.f["sku"]
        options = self.spec.option_specs() if self.spec else []
        self.grouper = ProductGrouper(key, self.f["sku"], options, max_options)
        self._checked = False

    def add(self, batch: Batch) -> None:
        if not self._checked and len(batch):
            need = [self.f["sku"], self.f["title"], *self.pattern_fields]
            missing = [n for n in need if n not in batch.names]
            if missing:
                raise ValueError(f"field(s) {', '.join(missing)} needed for the shop file "
                                 f"are not in the records ({', '.join(batch.names)}); map "
                                 "them or name them in fields:")
            self._checked = True
        self.grouper.add(batch)

    def has(self, name: str) -> bool:
        """Whether any record carries data for a canonical field."""
        present = self.grouper.present
        if name == "image" and self.pattern:
            return self.f[name] in present or all(n in present for n in self.pattern_fields)
        return self.f[name] in present

    def option_count(self) -> int:
        return sum(o.field in self.grouper.present for o in self.grouper.options)

    def products(self) -> Iterator[Product]:
        for key, rows in self.grouper.products():
            yield Product(key, rows, self.grouper.used_options(rows), self.f,
                          [self._image(r) for r in rows])

    def _image(self, row: dict[str, Any]) -> str | None:
        given = row.get(self.f["image"])
        if not blank(given) or self.pattern is None:
            return None if blank(given) else text(given)
        values = [row.get(n) for n in self.pattern_fields]
        if any(blank(v) for v in values):
            return None
        return self.pattern.format(**{n: _quoted(text(v))
                                      for n, v in zip(self.pattern_fields, values)})

    def close(self) -> None:
        self.grouper.close()


class CsvRows:
    """Rows of text cells by header name, written through ``csv_lines`` in blocks."""

    BLOCK = 2048

    def __init__(self, file: BinaryIO, header: list[str]):
        self.file, self.header = file, header
        self.rows: list[list[str]] = []
        file.write(header_line(header))

    def add(self, cells: dict[str, str]) -> None:
        self.rows.append([cells.get(h, "") for h in self.header])
        if len(self.rows) >= self.BLOCK:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            cols = [pa.array(c, pa.string()) for c in zip(*self.rows)]
            self.file.write(csv_lines(cols))
            self.rows = []
