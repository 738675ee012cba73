"""What each output can carry of the catalog a profile describes, so `check`
says plainly when a shop will not get part of it (a language, categories,
filters) instead of the merchant finding out in the shop, and the README's
shop-by-shop table is generated from the same declarations (Sink.CARRIES)."""

from __future__ import annotations

from typing import Any

FEATURES = {
    "translations": "names, descriptions and option labels in the other languages",
    "categories": "category paths (created when missing)",
    "filters": "attributes shoppers filter by (material, colour family, fit)",
    "specs": "specifications shown on the product page (composition, care)",
    "sale_dates": "a sale price with its start and end dates",
    "market_prices": "prices per market, price list or website",
    "images": "several images per product and variant, in order, with alt text",
    "barcode": "the EAN/GTIN of each variant",
    "locations": "stock per shop location",
}


def used(profile: Any, options: Any) -> dict[str, str]:
    """The catalog features a profile gives an output: feature -> what shows it."""
    m = profile.map
    names = set(m.fields)  # the mapped fields (none: the input's, unknown here)
    fields = getattr(options, "fields", {}) or {}

    def has(canonical: str) -> bool:
        return fields.get(canonical, canonical) in names

    out: dict[str, str] = {}
    if len(m.languages) > 1:
        out["translations"] = "map.languages " + ", ".join(m.languages[1:])
    if has("categories"):
        out["categories"] = "a categories field"
    filters = [c for c, a in m.attributes.items() if a.filter]
    specs = [c for c, a in m.attributes.items() if not a.filter]
    if filters:
        out["filters"] = "map.attributes " + ", ".join(filters)
    if specs:
        out["specs"] = "map.attributes " + ", ".join(specs)
    if has("sale_from") or has("sale_to"):
        out["sale_dates"] = "sale_from/sale_to fields"
    if has("barcode"):
        out["barcode"] = "a barcode field"
    return out


def notes(profile: Any, registry: Any) -> list[str]:
    """One line per catalog feature the profile gives an output that cannot carry it."""
    out = []
    for i, options in enumerate(getattr(profile, "write", [])):
        cls = registry.get("sink", options.format)
        carries = getattr(cls, "CARRIES", {})
        if not carries or getattr(options, "sync", "catalog") == "stock":
            continue  # not a shop's catalog (a plain file, a template, stock only)
        partly = getattr(cls, "PARTLY", {})
        for feature, source in used(profile, options).items():
            if feature not in carries:
                out.append(f"write[{i}] {options.format}: cannot carry {FEATURES[feature]} "
                           f"({source}); this shop will not get them from this output")
            elif feature in partly:
                out.append(f"write[{i}] {options.format}: carries {FEATURES[feature]} "
                           f"({source}) only in part: {partly[feature]}")
        own = getattr(cls, "notes", None)  # what the output's own options leave out
        if own is not None:
            out += [f"write[{i}] {options.format}: {n}" for n in own(options, profile)]
    return out
