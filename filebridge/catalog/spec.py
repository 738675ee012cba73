"""The profile's words for a catalog: the languages it is written in, the
attributes shops filter on or show as specifications, how variants are told apart
and ordered, and how a product's own fields are formed from its variants' rows.

Translations are mapped fields named ``<field>@<language>``: ``title@en``,
``description@de``, an option's value ``colour@fr``, an attribute's value
``material@en``, category paths ``categories@en`` (``Women > Outerwear >
Jackets`` beside ``Donna > Capispalla > Giacche``: the same paths in the same
order, each level translated). The first language of ``map.languages`` is the shop's default
and uses the plain names (``title``, ``colour``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from filebridge.options import Model

LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z]{2,4})?$")

Order = Literal["file", "sizes", "alpha", "numeric"]

ParentRule = Literal["most", "first", "same", "prefix"]

# Product-level canonical fields, formed from the variants' rows by a parent rule.
PRODUCT_LEVEL = ("title", "description", "short_description", "vendor", "product_type",
                 "category", "categories", "tags", "status", "published", "handle",
                 "seo_title", "seo_description")
# Canonical fields whose text has a version per language. ``categories@<lang>``
# holds the same paths as ``categories``, level by level in that language.
TRANSLATABLE = ("title", "description", "short_description", "seo_title",
                "seo_description", "image_alt", "handle", "categories")


def _language(v: str) -> str:
    if not LANGUAGE.match(v):
        raise ValueError(f"{v!r} is not a language code (e.g. it, en, de, fr, pt-BR)")
    return v


def labels(v: dict[str, str]) -> dict[str, str]:
    for lang in v:
        _language(lang)
    return v


class OptionSpec(Model):
    """One way variants differ (size, colour), as the shop shows it."""

    field: str = Field(description="mapped field holding the option value (e.g. size); "
                       "its translations are <field>@<language>")
    name: str | None = Field(None, description="option name shown in the shop (default: "
                             "the field name, capitalised)")
    names: dict[str, str] = Field(default_factory=dict, description="the name in other "
                                  "languages, e.g. {en: Size, de: Größe}")
    order: Order | list[str] = Field("file", description="order of the values in the shop: "
                                     "file (as first seen), sizes (XS..XXL, 36..60, shoes "
                                     "with halves, 30/32), alpha, numeric, or a list of "
                                     "values (others after it)")

    @field_validator("names")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        return labels(v)

    @property
    def label(self) -> str:
        return self.name or self.field.replace("_", " ").capitalize()


class ParentRules(Model):
    """How a product's own fields are formed from its variants' rows, where they
    differ (an ERP repeats the article's title on every SKU, sometimes with a size
    suffix or a typo on one). ``most``: the value most variants have (ties: the
    first); ``first``: the first variant's non-empty value; ``same``: all variants
    must agree, else the product's rows are rejected; ``prefix``: the longest
    common beginning (``Giacca - M`` and ``Giacca - L`` give ``Giacca``). A warning
    is listed when variants disagree under most, first or prefix."""

    default: ParentRule = Field("most", description="the rule for every product-level "
                                "field not named below")
    fields: dict[str, ParentRule] = Field(default_factory=dict, description="per canonical "
                                          "field, e.g. {title: prefix, description: first}")

    @field_validator("fields")
    @classmethod
    def _known(cls, v: dict[str, ParentRule]) -> dict[str, ParentRule]:
        unknown = sorted(set(v) - set(PRODUCT_LEVEL))
        if unknown:
            raise ValueError(f"not product-level field(s): {', '.join(unknown)}; known: "
                             + ", ".join(PRODUCT_LEVEL))
        return v

    def rule(self, name: str) -> ParentRule:
        return self.fields.get(name, self.default)


class ProductSpec(Model):
    """Group SKU rows into products with variants."""

    key: str = Field(description="mapped field shared by all variants of a product (the "
                     "stable parent key, e.g. the article code)")
    options: list[OptionSpec | str] = Field(default_factory=list, max_length=3,
                                            description="fields that tell variants apart, "
                                            "e.g. [size, colour] (at most 3)")
    parent: ParentRules = Field(default_factory=ParentRules, description="how the "
                                "product's title, description and other product-level "
                                "fields are formed when its variants' rows differ")
    simple: bool = Field(True, description="a product with one SKU is a simple product "
                         "(a one-size scarf: nothing to choose; its option values stay as "
                         "plain attributes where the shop has them); false: a product with "
                         "variants even then")

    @field_validator("options")
    @classmethod
    def _expand(cls, v: list[OptionSpec | str]) -> list[OptionSpec | str]:
        out = [OptionSpec(field=o) if isinstance(o, str) else o for o in v]
        fields = [o.field for o in out if isinstance(o, OptionSpec)]
        dupes = sorted({f for f in fields if fields.count(f) > 1})
        if dupes:
            raise ValueError(f"option field(s) given twice: {', '.join(dupes)}")
        return out  # type: ignore[return-value]

    def option_specs(self) -> list[OptionSpec]:
        return [o for o in self.options if isinstance(o, OptionSpec)]


class AttributeSpec(Model):
    """A product property that is not a variant option: a filter shoppers narrow a
    listing by (material, colour family, fit, season) or a specification shown on
    the product page (composition, care, origin). Its value is the mapped field of
    the same name (a list for several values), translated as <name>@<language>."""

    name: str | None = Field(None, description="the label shown in the shop (default: "
                             "the field name, capitalised)")
    names: dict[str, str] = Field(default_factory=dict, description="the label in other "
                                  "languages, e.g. {en: Material}")
    filter: bool = Field(True, description="true: shoppers can filter by it (WooCommerce "
                         "global attribute, Shopify metafield definition usable as a "
                         "filter, Magento filterable attribute, Vendure facet); false: a "
                         "specification shown on the product page")
    type: Literal["text", "number", "boolean"] = Field("text", description="the value's "
                                                       "type where the shop types it")
    namespace: str = Field("custom", pattern=r"^[a-z0-9_]{2,20}$", description="Shopify "
                           "metafield namespace")

    @field_validator("names")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        return labels(v)

    def label(self, code: str) -> str:
        return self.name or code.replace("_", " ").capitalize()


def check_languages(v: list[str]) -> list[str]:
    for lang in v:
        _language(lang)
    if len(set(v)) != len(v):
        raise ValueError("a language is listed twice")
    return v


class MarketPrices(Model):
    """The mapped fields holding one market's (price list's, website's) prices."""

    price: str = Field(description="mapped field with the price in this market")
    compare_at_price: str | None = Field(None, description="mapped field with the "
                                         "compare-at (list) price in this market")
