"""One mapped row under canonical names, as every shop output reads it.

A sink's ``fields:`` maps a canonical name to the mapped field holding it (default:
the same name); translations are read from ``<mapped field>@<language>`` for the
profile's other languages. :class:`Canon` selects those columns from a batch
(column-wise, so a hash over them tells a changed record) and turns a row into a
JSON-ready **record**:

    sku, product (the product key when variants are grouped), line
    title, description, short_description, vendor, product_type, category (the
    shop's own taxonomy, e.g. Shopify's Product category), handle, status,
    seo_title, seo_description: text;  published: bool
    tags: [text];  categories: [[level, level, ...], ...]
    barcode: text;  price, compare_at_price, sale_price, cost: decimal text
    sale_from, sale_to: YYYY-MM-DD;  stock, weight (grams): int
    image: url;  images: [url];  image_alt: text
    options: [{field, name, names: {lang: name}, value, values: {lang: value}}]
    attributes: [{code, name, names, filter, type, namespace,
                  values: [text], translations: {lang: [text]}}]
    translations: {lang: {title, description, ..., categories: [[level, ...], ...]}}
    prices: {market: {price, compare_at_price}}
    on_sale: bool (API sinks with DAY_PRICE: whether the sale runs on the file's date,
             decided when the file is read and kept with the change)

Decimals are never floats; a value a shop could not take raises
:class:`FieldError` naming the canonical field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import pyarrow as pa
from pydantic import AfterValidator

from filebridge.catalog.spec import TRANSLATABLE, AttributeSpec, OptionSpec, ProductSpec
from filebridge.catalog.values import blank, boolean, integer, iso_date, listed, money, paths, text
from filebridge.errors import FilebridgeError, OutputError
from filebridge.records import Batch

PRODUCT_FIELDS = ("title", "description", "short_description", "vendor", "product_type",
                  "category", "categories", "tags", "status", "published", "handle",
                  "seo_title", "seo_description")
VARIANT_FIELDS = ("sku", "barcode", "price", "compare_at_price", "sale_price", "sale_from",
                  "sale_to", "cost", "stock", "weight", "image", "images", "image_alt")
CANONICAL = PRODUCT_FIELDS + VARIANT_FIELDS
MONEY = ("price", "compare_at_price", "sale_price", "cost")
LISTS = ("tags", "images")


def _canonical(v: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(v) - set(CANONICAL))
    if unknown:
        raise ValueError(f"unknown canonical field(s) {', '.join(unknown)}; known: "
                         + ", ".join(CANONICAL))
    return v


# ``fields:`` of a shop sink: canonical name -> the mapped field holding it.
CanonicalFields = Annotated[dict[str, str], AfterValidator(_canonical)]


class FieldError(FilebridgeError, ValueError):
    """A value a shop cannot take; ``field`` is the canonical name."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass
class Market:
    """The mapped fields of one market's (or price list's, or website's) prices."""

    price: str
    compare_at_price: str | None = None


@dataclass
class Canon:
    """How one sink reads mapped rows."""

    fields: dict[str, str] = field(default_factory=dict)  # canonical -> mapped field
    names: Sequence[str] = CANONICAL  # the canonical fields this sink sends
    product: ProductSpec | None = None
    languages: Sequence[str] = ()  # all of them, the default first
    attributes: dict[str, AttributeSpec] = field(default_factory=dict)
    markets: dict[str, Market] = field(default_factory=dict)
    # Hashed with the row but never sent: name -> mapped field, taken as ``name#`` (a
    # Magento stock sink's units held reserved, filebridge.stock.Inventory.sink_options).
    hashed: dict[str, str] = field(default_factory=dict)

    def mapped(self, name: str) -> str:
        return self.fields.get(name, name)

    @property
    def translated(self) -> Sequence[str]:
        return self.languages[1:]

    def table(self, batch: Batch) -> pa.Table:
        """The batch's columns this sink reads, under canonical column names."""
        have = set(batch.names)
        cols: dict[str, pa.Array] = {}

        def take(col: str, src: str) -> None:
            if src in have:
                cols[col] = batch.column(src)

        for c in self.names:
            take(c, self.mapped(c))
            if c in TRANSLATABLE:
                for lang in self.translated:
                    take(f"{c}@{lang}", f"{self.mapped(c)}@{lang}")
        if "sku" not in cols:
            raise OutputError(f"field {self.mapped('sku')} (the SKU) is not in the records "
                              f"({', '.join(batch.names)}); map it or name it in fields:")
        if self.product is not None:
            take("product", self.product.key)
            for o in self.product.option_specs():
                take(f"option:{o.field}", o.field)
                for lang in self.translated:
                    take(f"option:{o.field}@{lang}", f"{o.field}@{lang}")
        for code in self.attributes:
            take(f"attr:{code}", code)
            for lang in self.translated:
                take(f"attr:{code}@{lang}", f"{code}@{lang}")
        for market, m in self.markets.items():
            take(f"price#{market}", m.price)
            if m.compare_at_price:
                take(f"compare_at_price#{market}", m.compare_at_price)
        for name, src in self.hashed.items():
            take(f"{name}#", src)
        return pa.table(cols)

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        """A canonical row (from :meth:`table`) as a JSON-ready record."""
        sku = text(row.get("sku"))
        rec: dict[str, Any] = {}
        translations: dict[str, dict[str, str | list[list[str]]]] = {}
        for k, v in row.items():
            if blank(v) or ":" in k or "#" in k:
                continue
            name, _, lang = k.partition("@")
            try:
                if lang:  # category paths in that language, level by level
                    translations.setdefault(lang, {})[name] = paths(v) \
                        if name == "categories" else text(v)
                else:
                    rec[name] = _value(name, v, sku)
            except ValueError as e:
                raise FieldError(name, str(e)) from None
        if translations:
            rec["translations"] = {lang: translations[lang] for lang in self.translated
                                   if lang in translations}
        if self.product is not None:
            options = [self._option(o, row) for o in self.product.option_specs()
                       if not blank(row.get(f"option:{o.field}"))]
            if options:
                rec["options"] = options
        attrs = [a for code, spec in self.attributes.items()
                 if (a := self._attribute(code, spec, row)) is not None]
        if attrs:
            rec["attributes"] = attrs
        prices = {}
        for market in self.markets:
            p, c = row.get(f"price#{market}"), row.get(f"compare_at_price#{market}")
            try:
                entry = {k: format(d, "f") for k, v in (("price", p), ("compare_at_price", c))
                         if (d := money(v, f"price in {market}", sku)) is not None}
            except ValueError as e:
                raise FieldError("price", str(e)) from None
            if entry:
                prices[market] = entry
        if prices:
            rec["prices"] = prices
        return rec

    def _option(self, o: OptionSpec, row: dict[str, Any]) -> dict[str, Any]:
        values = {lang: text(v) for lang in self.translated
                  if not blank(v := row.get(f"option:{o.field}@{lang}"))}
        out: dict[str, Any] = {"field": o.field, "name": o.label,
                               "value": text(row[f"option:{o.field}"])}
        if o.names:
            out["names"] = dict(o.names)
        if values:
            out["values"] = values
        return out

    def _attribute(self, code: str, spec: AttributeSpec, row: dict[str, Any]
                   ) -> dict[str, Any] | None:
        values = _values(row.get(f"attr:{code}"))
        if not values:
            return None
        out: dict[str, Any] = {"code": code, "name": spec.label(code), "filter": spec.filter,
                               "type": spec.type, "namespace": spec.namespace,
                               "values": values}
        if spec.names:
            out["names"] = dict(spec.names)
        tr = {lang: t for lang in self.translated
              if (t := _values(row.get(f"attr:{code}@{lang}")))}
        if tr:
            out["translations"] = tr
        return out


def _values(v: Any) -> list[str]:
    """An attribute's values: a list gives several, text is one value (commas and all:
    "90% lana, 10% cachemire" is one composition)."""
    if isinstance(v, list):
        return listed(v)
    return [] if blank(v) else [text(v).strip()]


def _value(name: str, v: Any, sku: str) -> Any:
    if name in MONEY:
        d = money(v, name, sku)
        return None if d is None else format(d, "f")
    if name in ("stock", "weight"):
        return integer(v, name, sku)
    if name == "published":
        return boolean(v, name, sku)
    if name in LISTS:
        return listed(v)
    if name == "categories":
        return paths(v)
    if name in ("sale_from", "sale_to"):
        return iso_date(v, name, sku)
    return text(v)
