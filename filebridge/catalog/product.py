"""A product assembled from its variants' records, as every shop should end up
with it whatever order the rows came in and whichever of them a file carried.

- Variants are ordered by their option values, each option's values by the
  option's ``order`` (sizes XS..XXL, 36..60, …), so the shop lists S, M, L, XL
  and a product rebuilt from one changed variant plus the ledger's memory of
  the others comes out exactly as a full load.
- Product-level fields (title, description, …) follow the profile's parent
  rules; variants that disagree give a warning, never a silent pick.
- Tags and categories are the union of the variants'; images the ordered union
  of the variants' images (variant order, then each variant's own order).
- Rows that cannot be a variant of this product (no value for an option the
  others have, the same options as an earlier SKU, more options than the shop
  takes) are *problems*: those rows are refused with a reason, the others go on.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from filebridge.catalog.sizes import ordered
from filebridge.catalog.spec import PRODUCT_LEVEL, ProductSpec
from filebridge.catalog.values import blank

LISTS = ("tags", "categories")


@dataclass
class Option:
    field: str
    name: str
    names: dict[str, str]
    values: list[str]  # in the shop's order
    translations: dict[str, dict[str, str]]  # lang -> value -> translated value

    def position(self, value: str) -> int:
        return self.values.index(value)

    def name_in(self, lang: str | None) -> str:
        return self.names.get(lang, self.name) if lang else self.name

    def value_in(self, value: str, lang: str | None) -> str:
        return self.translations.get(lang, {}).get(value, value) if lang else value


@dataclass
class Problem:
    record: dict[str, Any]
    reason: str
    field: str | None = None


@dataclass
class Product:
    key: str
    variants: list[dict[str, Any]]  # records, in option order
    fields: dict[str, Any]  # product-level values
    translations: dict[str, dict[str, Any]]
    options: list[Option]
    attributes: list[dict[str, Any]]
    images: list[str]
    simple: bool
    problems: list[Problem] = field(default_factory=list)
    warnings: list[tuple[int | None, str, str]] = field(default_factory=list)

    def get(self, name: str, lang: str | None = None) -> Any:
        if lang:
            return self.translations.get(lang, {}).get(name)
        return self.fields.get(name)

    def option_values(self, record: dict[str, Any]) -> list[str]:
        mine = {o["field"]: o["value"] for o in record.get("options", [])}
        return [mine.get(o.field, "") for o in self.options]

    def image_alts(self) -> dict[str, str]:
        """Each image's alt text: that of the first variant showing it."""
        out: dict[str, str] = {}
        for rec in self.variants:
            for url in rec.get("images") or ([rec["image"]] if rec.get("image") else []):
                if rec.get("image_alt") and url not in out:
                    out[url] = rec["image_alt"]
        return out


def _common_prefix(values: list[str]) -> str:
    prefix = os.path.commonprefix(values)
    return prefix.rstrip(" -/,.;:_|").strip() or values[0]


def _pick(name: str, values: list[tuple[int | None, Any]], rule: str, key: str
          ) -> tuple[Any, str | None, bool]:
    """(value, warning, refuse) for one product-level field."""
    present = [(ln, v) for ln, v in values if not blank(v)]
    if not present:
        return None, None, False
    distinct = list(dict.fromkeys(_hashable(v) for _, v in present))
    if len(distinct) == 1:
        return present[0][1], None, False
    shown = "; ".join(f"{v!s}" for v in distinct[:3]) + (" …" if len(distinct) > 3 else "")
    if rule == "same":
        return None, f"product {key}: the variants disagree on {name} ({shown})", True
    if rule == "first":
        chosen = present[0][1]
    elif rule == "prefix" and all(isinstance(v, str) for _, v in present):
        chosen = _common_prefix([v for _, v in present])
    else:
        counts = Counter(_hashable(v) for _, v in present)
        best = max(counts.values())
        chosen = next(v for _, v in present if counts[_hashable(v)] == best)
    return chosen, (f"product {key}: the variants disagree on {name} ({shown}); "
                    f"{chosen!s} is used ({rule})"), False


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v


def _union(lists: list[list[Any] | None]) -> list[Any]:
    out: dict[Any, Any] = {}
    for items in lists:
        for x in items or []:
            out.setdefault(_hashable(x), x)
    return list(out.values())


def build(key: str, records: list[dict[str, Any]], spec: ProductSpec | None,
          max_options: int | None = None) -> Product:
    """Assemble one product from its variants' records (file rows and remembered
    ones); rows that cannot belong come back as ``problems``."""
    problems: list[Problem] = []
    specs = spec.option_specs() if spec is not None else []
    used = [o for o in specs if any(_opt(r, o.field) is not None for r in records)]
    good = list(records)
    if max_options is not None and len(used) > max_options:
        problems += [Problem(r, f"product {key}: {len(used)} options "
                                f"({', '.join(o.label for o in used)}), at most "
                                f"{max_options}") for r in good]
        good = []
    if len(good) > 1 and not used:
        what = "no option value tells them apart" if specs else \
            "products are not grouped (map.product) yet share the key"
        problems += [Problem(r, f"product {key}: {len(good)} SKUs and {what}") for r in good]
        good = []
    kept: list[dict[str, Any]] = []
    combos: dict[tuple[str, ...], str] = {}
    for r in good:
        missing = [o for o in used if _opt(r, o.field) is None]
        if missing:
            problems.append(Problem(r, f"product {key}: SKU {r['sku']} has no "
                                       f"{missing[0].label} (its other SKUs have one)",
                                    missing[0].field))
            continue
        combo = tuple(_opt(r, o.field) or "" for o in used)
        if combo in combos:
            shown = ", ".join(f"{o.label}={v}" for o, v in zip(used, combo, strict=True))
            problems.append(Problem(r, f"product {key}: SKUs {combos[combo]} and {r['sku']} "
                                       f"have the same options ({shown}); {combos[combo]} is "
                                       "kept"))
            continue
        combos[combo] = r["sku"]
        kept.append(r)
    options = []
    for o in used:
        values = ordered([_opt(r, o.field) or "" for r in kept], o.order)
        tr: dict[str, dict[str, str]] = {}
        for r in kept:
            for item in r.get("options", []):
                if item["field"] == o.field:
                    for lang, t in item.get("values", {}).items():
                        tr.setdefault(lang, {}).setdefault(item["value"], t)
        options.append(Option(o.field, o.label, dict(o.names), values, tr))
    rank = [{v: i for i, v in enumerate(o.values)} for o in options]
    kept.sort(key=lambda r: tuple(rk[_opt(r, o.field) or ""] for rk, o in zip(rank, options,
                                                                              strict=True)))
    fields: dict[str, Any] = {}
    translations: dict[str, dict[str, Any]] = {}
    warnings: list[tuple[int | None, str, str]] = []
    refuse = False
    first_line = kept[0].get("line") if kept else None
    for name in PRODUCT_LEVEL:
        if name in LISTS:
            merged = _union([r.get(name) for r in kept])
            if merged:
                fields[name] = merged
            continue
        rule = spec.parent.rule(name) if spec is not None else "most"
        value, warn, bad = _pick(name, [(r.get("line"), r.get(name)) for r in kept], rule, key)
        if bad:
            refuse = True
            warnings.append((first_line, name, warn or ""))
        elif warn:
            warnings.append((first_line, name, warn))
        if value is not None:
            fields[name] = value
    langs = list(dict.fromkeys(lang for r in kept for lang in r.get("translations", {})))
    for lang in langs:
        for name in dict.fromkeys(n for r in kept for n in r.get("translations", {}).get(lang, {})):
            if name not in PRODUCT_LEVEL:
                continue  # a variant's own text (image_alt): stays on the variant
            rule = spec.parent.rule(name) if spec is not None else "most"
            value, warn, _ = _pick(f"{name}@{lang}", [
                (r.get("line"), r.get("translations", {}).get(lang, {}).get(name))
                for r in kept], rule if rule != "same" else "most", key)
            if warn:
                warnings.append((first_line, f"{name}@{lang}", warn))
            if value is not None:
                translations.setdefault(lang, {})[name] = value
    if refuse:
        problems += [Problem(r, w) for r in kept for ln, f, w in warnings[-1:]]
        kept = []
    attributes: dict[str, dict[str, Any]] = {}
    for r in kept:
        for a in r.get("attributes", []):
            merged_a = attributes.setdefault(a["code"], {**a, "values": [], "translations": {}})
            merged_a["values"] = _union([merged_a["values"], a["values"]])
            for lang, vs in a.get("translations", {}).items():
                merged_a["translations"][lang] = _union([merged_a["translations"].get(lang, []),
                                                         vs])
    for a in attributes.values():
        if not a["translations"]:
            del a["translations"]
    images = _union([r.get("images") or ([r["image"]] if r.get("image") else []) for r in kept])
    # One SKU has nothing to choose between: a simple product (its option values stay
    # as plain attributes where a shop has them), unless the profile says otherwise.
    simple = spec is None or (len(kept) <= 1 and spec.simple)
    return Product(key, kept, fields, translations, options, list(attributes.values()), images,
                   simple, problems, warnings if not refuse else [])


def _opt(record: dict[str, Any], name: str) -> str | None:
    for item in record.get("options", []):
        if item["field"] == name:
            return item["value"]
    return None
