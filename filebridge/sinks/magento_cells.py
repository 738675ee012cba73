"""How values are written into the cells of Magento 2's ``catalog_product`` import
CSV, so that Magento's importer reads back exactly what was meant.

Read in magento/magento2 (app/code/Magento/CatalogImportExport/Model/Import/Product.php
@001f7ebb, Product/CategoryProcessor.php @04a6368e, ConfigurableImportExport/Model/
Import/Product/Type/Configurable.php @02097628) with the default import options
(field separator ``,``, multiple value separator ``,``, no fields enclosure):

- ``categories``: paths joined by the multiple value separator; a path's levels by
  ``/``, starting at the root category's name; a ``/`` inside a name is written
  ``\\/`` (CategoryProcessor splits on an unescaped ``/`` only). A name holding the
  multiple value separator cannot be written at all (nothing escapes it).
- ``additional_attributes``: ``code=value`` pairs joined by ``,``. The importer
  splits on ``,`` and glues a piece holding no ``=`` back onto the previous value
  (so ``90% lana, 10% cachemire`` survives), but a later piece holding ``=`` starts
  a new pair: such a value cannot be written. Several values of a multiselect are
  joined by ``|`` (PSEUDO_MULTI_LINE_SEPARATOR), so a value holding ``|`` cannot be
  one of several.
- ``configurable_variations``: variations joined by ``|``, a variation's pairs by
  ``,``, ``=`` between code and value; the importer trims and splits every pair on
  ``=`` with no gluing, so a value there must hold none of ``|``, ``,``, ``=``.
- ``url_key``: Magento formats keys with Filter\\TranslitUrl (transliterate, every run
  of other characters to ``-``, lower case, trimmed): written already in that form.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote

SEP = ","  # _import_multiple_value_separator (default)
MULTI = "|"  # Product::PSEUDO_MULTI_LINE_SEPARATOR
PAIR = "="  # Product::PAIR_NAME_VALUE_SEPARATOR
LEVEL = "/"  # CategoryProcessor::DELIMITER_CATEGORY
CODE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")  # an EAV attribute code


class CellError(ValueError):
    """A value Magento's importer would read as something else; ``field`` names it."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def url_key(*parts: str) -> str:
    """A URL key in the form Magento's TranslitUrl gives (idempotent there)."""
    t = " ".join(parts).replace("&", " and ").replace("ß", "ss")
    t = unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode()
    return re.sub(r"[^0-9a-z]+", "-", t.lower()).strip("-")


def category_paths(root: str, paths: Iterable[list[str]]) -> str:
    out = []
    for path in paths:
        for level in path:
            if SEP in level:
                raise CellError(f"category {' > '.join(path)!r}: the name {level!r} holds "
                                f"{SEP!r}, Magento's multiple value separator, which "
                                "nothing escapes in the categories column", "categories")
        out.append(LEVEL.join(x.replace(LEVEL, "\\" + LEVEL) for x in [root, *path]))
    return SEP.join(out)


def attribute_pairs(pairs: Iterable[tuple[str, list[str]]]) -> str:
    """``code=value,code=v1|v2`` as the importer parses it without fields enclosure."""
    cells = []
    for code, values in pairs:
        for v in values:
            if any(PAIR in piece for piece in v.split(SEP)[1:]):
                raise CellError(f"{code}: the value {v!r} has {PAIR!r} after a {SEP!r}: "
                                "Magento's importer would read a new attribute there", code)
            if len(values) > 1 and MULTI in v:
                raise CellError(f"{code}: the value {v!r} holds {MULTI!r}, the separator "
                                "of a multiselect's values", code)
            if "\n" in v or "\r" in v:
                raise CellError(f"{code}: the value {v!r} spans lines", code)
        cells.append(f"{code}{PAIR}{MULTI.join(values)}")
    return SEP.join(cells)


def variation(sku: str, values: list[tuple[str, str]]) -> str:
    for what, v in [("sku", sku), *values]:
        bad = [c for c in (MULTI, SEP, PAIR) if c in v]
        if bad or v != v.strip():
            raise CellError(f"{what} {v!r} cannot go into configurable_variations "
                            f"(it holds {' '.join(bad) or 'leading or trailing blanks'})",
                            what)
    return SEP.join([f"sku{PAIR}{sku}", *(f"{c}{PAIR}{v}" for c, v in values)])


def image_url(url: str) -> str:
    """An image URL as Magento takes it: a comma would split additional_images, and
    Validator\\Media checks URLs with PHP's FILTER_VALIDATE_URL (no blanks); percent
    escapes already there are kept."""
    return quote(url, safe=":/?#[]@!$&'()*+;=%~")
