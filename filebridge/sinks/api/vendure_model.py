"""What a product and its variants say to Vendure, worked out from the catalog
records without calling the shop: names per language, filter values, category
paths, images, specifications, the price of the day.

Languages: Vendure spells region variants with ``_`` (``pt_BR``, LanguageCode
enum in ``@vendure/core`` ``dist/api/schema/common/language-code.graphql``); the
profile's ``pt-BR`` is sent as ``pt_BR``. A language the profile declares but a
record does not translate gets no translation of its own: Vendure shows the
default language's text for it (``translateEntity``'s fallback,
``dist/service/helpers/utils/translate-entity.js``).

A translated list (an attribute's values, the levels of a category path) must
line up with the default language's one by one: a list that does not (two
materials in Italian, one in English) refuses the record rather than guessing
which translates which.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from filebridge.catalog.product import Product
from filebridge.catalog.spec import AttributeSpec, ProductSpec
from filebridge.catalog.values import blank, paths, text

# Record keys that only a variant carries: a change to them alone leaves the
# product (names, facets, collections, assets) as it is.
VARIANT_ONLY = frozenset({"sku", "barcode", "price", "compare_at_price", "sale_price",
                          "sale_from", "sale_to", "cost", "stock", "weight", "prices",
                          "on_sale", "line", "ordinal"})
# Record keys whose change rewrites a variant's facet values and assets.
VARIANT_EXTRAS = ("attributes", "images", "image")


class ItemError(Exception):
    """Vendure refused one item, or a record cannot be written (its message)."""


def vlang(code: str) -> str:
    """A profile's language code as Vendure's LanguageCode enum spells it."""
    return code.replace("-", "_")


def slug(text_: str, empty: str = "product") -> str:
    t = unicodedata.normalize("NFKD", text_).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", t).strip("-") or empty


def code_of(*parts: str, limit: int = 200) -> str:
    """A stable code for facet values: the slugs of ``parts`` joined by ``--``; a
    part without letters or digits, or a code longer than ``limit``, is told apart
    by a hash of the original text."""
    slugs = [slug(p, "") for p in parts]
    code = "--".join(slugs)
    if any(not s for s in slugs) or len(code) > limit:
        digest = hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:12]
        code = f"{code[:limit - 13].strip('-')}-{digest}".strip("-")
    return code


def enabled(r: dict[str, Any]) -> bool | None:
    if r.get("published") is not None:
        return bool(r["published"])
    if r.get("status"):
        return str(r["status"]).lower() == "active"
    return None


def product_changed(record: dict[str, Any], previous: dict[str, Any] | None) -> bool:
    """Whether a record says something new about its product (not only about its
    own variant) compared with what the shop last acknowledged."""
    if previous is None:
        return True
    keys = (set(record) | set(previous)) - VARIANT_ONLY
    return any(record.get(k) != previous.get(k) for k in keys)


def extras_changed(record: dict[str, Any], previous: dict[str, Any] | None) -> bool:
    if previous is None:
        return True
    return any(record.get(k) != previous.get(k) for k in VARIANT_EXTRAS)


def images_of(record: dict[str, Any]) -> list[str]:
    """A record's own images in order (``images``, else the single ``image``)."""
    imgs = [str(u) for u in record.get("images") or [] if not blank(u)]
    return imgs or ([str(record["image"])] if not blank(record.get("image")) else [])


def with_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A record whose options all name their field (records of a profile do; a
    hand-made record may give only the option's name)."""
    opts = record.get("options")
    if not opts or all("field" in o for o in opts):
        return record
    return {**record, "options": [{"field": o["name"], **o} for o in opts]}


def spec_for(records: list[dict[str, Any]], spec: ProductSpec | None) -> ProductSpec | None:
    """The profile's product spec, or one read off the records' options when the
    client runs without a profile (tests, tools)."""
    if spec is not None:
        return spec
    fields = list(dict.fromkeys(o["field"] for r in records for o in r.get("options") or []))
    if not fields:
        return None
    return ProductSpec.model_validate({"key": "product", "options": fields})


@dataclass
class Catalog:
    """What the profile says about its catalog (``map``): languages, how variants
    group into products, attributes."""

    languages: list[str] = field(default_factory=list)
    product: ProductSpec | None = None
    attributes: dict[str, AttributeSpec] = field(default_factory=dict)


@dataclass
class Server:
    """What one Vendure offers, read once per client."""

    default_language: str
    available: list[str]
    codes: set[str]
    product_fields: dict[str, CustomField]
    variant_fields: dict[str, CustomField]


# -- names -------------------------------------------------------------------------------
@dataclass
class Languages:
    """The catalog's languages, the default (plain fields) first."""

    codes: list[str]

    @property
    def default(self) -> str:
        return self.codes[0]

    @property
    def others(self) -> list[str]:
        return self.codes[1:]


def product_translations(p: Product, langs: Languages, default_slug: str,
                         locale_specs: dict[str, dict[str, str]] | None = None
                         ) -> list[dict[str, Any]]:
    """``ProductTranslationInput`` per language: name, slug, description (Vendure's
    product_translation.description is NOT NULL) and translatable custom fields
    (``locale_specs``: field -> {lang: text})."""
    title = text(p.get("title")) or p.key
    description = text(p.get("description"))
    specs = locale_specs or {}
    out = []
    for lang in langs.codes:
        tr = p.translations.get(lang, {}) if lang != langs.default else {}
        custom = {f: v[lang] for f, v in specs.items() if lang in v}
        if lang != langs.default and not (tr or custom):
            continue
        handle = tr.get("handle")
        entry: dict[str, Any] = {
            "languageCode": vlang(lang), "name": tr.get("title") or title,
            "slug": slug(handle) if handle else default_slug,
            "description": tr.get("description") or description}
        if custom:
            entry["customFields"] = custom
        out.append(entry)
    return out


def variant_translations(record: dict[str, Any], p: Product, langs: Languages
                         ) -> list[dict[str, Any]]:
    """``ProductVariantTranslationInput``: the product's name and the variant's option
    values, per language that translates either."""
    values = {o["field"]: o for o in record.get("options") or []}
    out = []
    for lang in langs.codes:
        default = lang == langs.default
        title = p.get("title", None if default else lang)
        opts = [values[o.field] for o in p.options if o.field in values] or \
            list(values.values())
        names = [o["value"] if default else (o.get("values") or {}).get(lang) for o in opts]
        if not default and title is None and not any(names):
            continue
        head = text(title or p.get("title") or record.get("title") or record["sku"])
        tail = [n or o["value"] for n, o in zip(names, opts, strict=True)]
        out.append({"languageCode": vlang(lang), "name": " ".join([head, *tail]).strip()})
    return out


def option_names(name: str, names: dict[str, str], langs: Languages) -> dict[str, str]:
    """An option group's (or option's) name per language: the default one always."""
    out = {langs.default: name}
    for lang in langs.others:
        if names.get(lang):
            out[lang] = names[lang]
    return out


def translations_input(names: dict[str, str], **extra: Any) -> list[dict[str, Any]]:
    return [{"languageCode": vlang(lang), "name": n, **extra} for lang, n in names.items()]


# -- filters and categories ----------------------------------------------------------------
@dataclass
class Value:
    """One facet value: its default-language text and its translations."""

    text: str
    names: dict[str, str] = field(default_factory=dict)  # lang -> text (default included)


def filter_values(record: dict[str, Any], langs: Languages) -> dict[str, list[Value]]:
    """The record's filter attributes: code -> values with their translations."""
    out: dict[str, list[Value]] = {}
    for a in record.get("attributes") or []:
        if not a.get("filter"):
            continue
        out[a["code"]] = aligned(a["code"], a["values"], a.get("translations") or {}, langs)
    return out


def aligned(what: str, values: list[str], translations: dict[str, list[str]],
            langs: Languages) -> list[Value]:
    out = [Value(v, {langs.default: v}) for v in values]
    for lang, tr in translations.items():
        if lang not in langs.others:
            continue
        if len(tr) != len(values):
            raise ItemError(f"{what}@{lang} has {len(tr)} value(s) ({', '.join(tr)}) and "
                            f"{what} {len(values)} ({', '.join(values)}): cannot tell which "
                            "translates which")
        for v, t in zip(out, tr, strict=True):
            v.names[lang] = t
    return out


def common_filters(variants: list[dict[str, list[Value]]]) -> dict[str, list[Value]]:
    """Filter values every variant has: those go on the product, the rest only on
    the variants that have them (so a variant is found by exactly its own values)."""
    if not variants:
        return {}
    out: dict[str, list[Value]] = {}
    for code, values in variants[0].items():
        keep = [v for v in values if all(v.text in {x.text for x in other.get(code, [])}
                                         for other in variants[1:])]
        if keep:
            out[code] = keep
    return out


Path = tuple[str, ...]


def category_paths(record: dict[str, Any], langs: Languages) -> dict[Path, dict[str, Path]]:
    """The record's category paths (default-language levels) -> their translations
    per language, level by level."""
    out: dict[Path, dict[str, Path]] = {tuple(p): {} for p in record.get("categories") or []}
    for lang, tr in (record.get("translations") or {}).items():
        given = tr.get("categories")
        if lang not in langs.others or blank(given):
            continue
        if isinstance(given, list) and all(isinstance(p, list) for p in given):
            translated = given  # parsed already (catalog/record.py)
        else:
            try:
                translated = paths(given)
            except ValueError as e:
                raise ItemError(f"categories@{lang}: {e}") from None
        if len(translated) != len(out):
            raise ItemError(f"categories@{lang} has {len(translated)} path(s) and categories "
                            f"{len(out)}: cannot tell which translates which")
        for path, t in zip(out, translated, strict=True):
            if len(t) != len(path):
                raise ItemError(f"categories@{lang} {' > '.join(t)!r} has {len(t)} level(s), "
                                f"categories {' > '.join(path)!r} {len(path)}")
            out[path][lang] = tuple(t)
    return out


def product_categories(records: list[dict[str, Any]], langs: Languages
                       ) -> dict[Path, dict[str, Path]]:
    out: dict[Path, dict[str, Path]] = {}
    for r in records:
        for path, tr in category_paths(r, langs).items():
            merged = out.setdefault(path, {})
            for lang, t in tr.items():
                merged.setdefault(lang, t)
    return out


# -- specifications ------------------------------------------------------------------------
@dataclass
class CustomField:
    """A custom field as the server declares it (``serverConfig.customFieldConfig``)."""

    name: str
    type: str  # string, localeString, text, localeText, int, float, boolean, ...
    list: bool = False

    @property
    def translatable(self) -> bool:
        return self.type in ("localeString", "localeText")


WRITABLE = ("string", "localeString", "text", "localeText", "int", "float", "boolean")


def spec_value(cf: CustomField, values: list[str]) -> Any:
    """Attribute values as the custom field's type takes them."""
    if cf.type in ("int", "float"):
        nums = []
        for v in values:
            try:
                n = float(v.replace(",", "."))
            except ValueError:
                raise ItemError(f"{cf.name} {v!r} is not a number") from None
            nums.append(int(n) if cf.type == "int" and n == int(n) else n)
        if cf.type == "int" and any(isinstance(n, float) for n in nums):
            raise ItemError(f"{cf.name} {', '.join(values)} is not a whole number")
        return nums if cf.list else nums[0]
    if cf.type == "boolean":
        from filebridge.catalog.values import boolean

        try:
            bools = [boolean(v, cf.name) for v in values]
        except ValueError as e:
            raise ItemError(str(e)) from None
        return bools if cf.list else bools[0]
    return list(values) if cf.list else ", ".join(values)


def product_specs(p: Product, fields: dict[str, CustomField], names: dict[str, str],
                  langs: Languages) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(customFields, translatable customFields per field -> {lang: value}) for the
    product's specifications that the server has a field for; ``names`` maps an
    attribute code to its custom field's name."""
    plain: dict[str, Any] = {}
    locale: dict[str, dict[str, Any]] = {}
    for a in p.attributes:
        if a.get("filter"):
            continue
        cf = fields.get(names.get(a["code"], a["code"]))
        if cf is None:
            continue
        if cf.translatable:
            per = {langs.default: spec_value(cf, a["values"])}
            for lang, vs in (a.get("translations") or {}).items():
                if lang in langs.others and vs:
                    per[lang] = spec_value(cf, vs)
            locale[cf.name] = per
        else:
            plain[cf.name] = spec_value(cf, a["values"])
    return plain, locale


def spec_codes(attributes: dict[str, AttributeSpec]) -> list[str]:
    return [c for c, a in attributes.items() if not a.filter]
