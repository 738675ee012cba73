"""What the shop CSV sinks share: options, canonical field names, value rules,
per-product access and the CSV row writer.

Shop sinks read mapped records through *canonical* field names; a sink's
``fields`` option maps a canonical name to the mapped field holding it (default:
the same name). Product level (taken from the first of the product's rows that has
a value): ``title``, ``description``, ``vendor``, ``product_type``, ``category``,
``tags`` (comma list), ``status`` (active/draft/archived), ``published`` (boolean),
``handle`` (Shopify). Variant level: ``sku`` (required), ``barcode``, ``price``,
``compare_at_price``, ``stock`` (integer), ``weight`` (grams), ``image`` (URL).
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any, BinaryIO
from urllib.parse import quote

import pyarrow as pa
from pydantic import AfterValidator, Field, field_validator

from filebridge.mapping import OptionSpec
from filebridge.records import Batch
from filebridge.sinks.base import FileSinkOptions, SinkContext, csv_lines, header_line
from filebridge.sinks.products import ProductGrouper, blank, text

PRODUCT_FIELDS = ("title", "description", "vendor", "product_type", "category", "tags",
                  "status", "published", "handle")
VARIANT_FIELDS = ("sku", "barcode", "price", "compare_at_price", "stock", "weight", "image")
CANONICAL = PRODUCT_FIELDS + VARIANT_FIELDS


def _canonical(v: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(v) - set(CANONICAL))
    if unknown:
        raise ValueError(f"unknown canonical field(s) {', '.join(unknown)}; known: "
                         + ", ".join(CANONICAL))
    return v


# ``fields:`` of a shop sink: canonical name -> the mapped field holding it.
CanonicalFields = Annotated[dict[str, str], AfterValidator(_canonical)]


class ShopSinkOptions(FileSinkOptions):
    """Options every shop import file has."""

    fields: CanonicalFields = Field(default_factory=dict, description="canonical name -> "
                                   "mapped field holding it, where they differ, e.g. {title: "
                                   "descr, stock: qty}; canonical: " + ", ".join(CANONICAL))
    images: str | None = Field(None, description="image URL pattern over record fields, e.g. "
                               "'https://cdn.example.com/img/{article}_{colour}.jpg' (values "
                               "URL-encoded); an image field, when filled, wins")

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
