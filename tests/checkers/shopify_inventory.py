"""Shopify's inventory CSV import (Products > Inventory > Import), from its documentation.

``import_inventory(store, path)`` sets quantities per variant x location in a
:class:`~checkers.shopify_store.ShopifyStore` and lists what Shopify would refuse in
``.errors`` (same :class:`~checkers.shopify_files.Problem` rows as the product import).

Rules and where they come from (tags as in :mod:`checkers.shopify_csv`):

  V1 Header, newest documented (2025+): ``Handle, Title, Option1 Name, Option1 Value,
     Option2 Name, Option2 Value, Option3 Name, Option3 Value, SKU, HS Code, COO,
     Location, Bin name, Incoming (not editable), Unavailable (not editable), Committed
     (not editable), Available (not editable), On hand (current), On hand (new)`` [3p: the
     same 19 columns in several independent public repositories that read or write
     Shopify inventory files]. Accepted too, the older one: ``Handle, Title, Option1
     Name, Option1 Value, ..., SKU, HS Code, COO, Location, Incoming, Unavailable,
     Committed, Available, On hand``, and its "only Available quantities" form with
     ``Available`` alone [doc: a mirror of the older help page,
     m.theturtleeffect.com/help/en/manual/products/inventory/getting-started-with-inventory/
     inventory-csv]. Handle, Location and a quantity column are required; other headers
     are ignored and reported, and so is a header that lacks some of its form's
     columns: the docs build the file from an export [stricter].
  V2 One row per variant x location [doc:
     https://help.shopify.com/en/manual/products/inventory/getting-started-with-inventory/inventory-csv
     "update the On hand quantity in a location row for a particular variant"]. A variant is
     named by its handle and option values [doc: "columns to help you identify your
     product"]; a SKU, when given, must be that variant's [stricter]. A location must be
     one of the store's; a variant x location given twice is refused the second time
     [stricter]. Rows for locations you do not want to change are left out [doc].
  V3 Which quantity is applied: ``On hand (new)`` in the newest header; in the older one
     ``On hand`` ("All quantity types": edit On hand only, Available is recomputed) or,
     without it, ``Available`` ("Only Available quantities") [doc: older help page].
     The "(not editable)" columns are never applied. A blank quantity changes nothing.
  V4 ``On hand (current)`` is a safety column: a row whose value differs from the
     on-hand quantity at import is not imported [3p: a research note citing
     help.shopify.com, "匯出後有變動則該列不匯入並 email 通知"; importcsv.com "Safety
     validation: compares On hand"]. A blank one cannot match: refused [stricter].
  V5 Quantities: whole numbers, positive, negative or 0, no decimals such as 1.5; or
     ``not stocked`` for a variant the location never stocks [doc; spiffystores.com.au
     copies the same table word for word]. Any letter case of "not stocked" [doc: the
     current page writes "Not stocked"].
  V6 Only tracked variants have inventory rows [3p: "a row for each tracked variant at
     each active location"]; a row for a variant whose Inventory tracker is not
     ``shopify`` is refused [stricter].
  V7 15 MB, UTF-8 (:mod:`checkers.shopify_files`).

The store keeps one number per variant x location (it has no orders, so On hand and
Available are the same).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .shopify_files import Problem, read_table
from .shopify_store import NOT_STOCKED, Level, ShopifyStore

NEWEST = ["Handle", "Title", "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value",
          "Option3 Name", "Option3 Value", "SKU", "HS Code", "COO", "Location", "Bin name",
          "Incoming (not editable)", "Unavailable (not editable)", "Committed (not editable)",
          "Available (not editable)", "On hand (current)", "On hand (new)"]
OLDER = ["Handle", "Title", "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value",
         "Option3 Name", "Option3 Value", "SKU", "HS Code", "COO", "Location", "Incoming",
         "Unavailable", "Committed", "Available", "On hand"]
OTHERS = ("Incoming", "Unavailable", "Committed", "On hand")  # not in "only Available"
WHOLE = re.compile(r"^-?\d+$")


@dataclass
class InventoryImport:
    errors: list[Problem] = field(default_factory=list)
    # (sku, location, before, after) for every level the file set
    changed: list[tuple[str, str, Level | None, Level]] = field(default_factory=list)
    header: str = ""  # "newest" or "older"


def import_inventory(store: ShopifyStore, path: str | Path) -> InventoryImport:
    res = InventoryImport()
    table = read_table(Path(path), res.errors)
    if table is None:
        return res
    header = table.header
    res.header = "newest" if "On hand (new)" in header else "older"
    known = NEWEST if res.header == "newest" else OLDER
    for h in header:
        if h not in known:
            res.errors.append(Problem(1, h, f"ignored: {h!r} is not a column of the "
                                            f"{res.header} inventory CSV header"))
    if len(set(header)) != len(header):
        res.errors.append(Problem(1, "", "refused: a header appears twice"))
        return res
    quantity = next((q for q in ("On hand (new)", "On hand", "Available") if q in header), "")
    missing = [h for h in ("Handle", "Location") if h not in header]
    if missing or not quantity:
        res.errors.append(Problem(1, "", "refused: the inventory CSV needs "
                                         + ", ".join(missing + ([] if quantity else
                                                                ["On hand (new)"]))))
        return res
    expected = known if quantity != "Available" else [h for h in OLDER if h not in OTHERS]
    if absent := [h for h in expected if h not in header]:
        res.errors.append(Problem(1, "", f"warning: the {res.header} header lacks "
                                         f"{', '.join(absent)}; Shopify's docs start an "
                                         "inventory CSV from an export of the store, and a "
                                         "partial header is not documented"))
    if not table.rows:
        res.errors.append(Problem(1, "", "ignored: the file has a header and no rows, so "
                                         "there is nothing to import"))
        return res
    at = {h: i for i, h in enumerate(header)}
    seen: dict[tuple[str, tuple[str, ...], str], int] = {}
    for line, cells in table.rows:
        if len(cells) != len(header):
            res.errors.append(Problem(line, "", f"refused: {len(cells)} cells for "
                                                f"{len(header)} headers"))
            continue
        row = {h: cells[i] for h, i in at.items()}
        _row(store, res, line, row, quantity, seen)
    return res


def _row(store: ShopifyStore, res: InventoryImport, line: int, row: dict[str, str],
         quantity: str, seen: dict[tuple[str, tuple[str, ...], str], int]) -> None:
    def refuse(column: str, message: str) -> None:
        res.errors.append(Problem(line, column, f"refused: {message}"))

    handle, location = row["Handle"], row["Location"]
    options = tuple(o for n in (1, 2, 3) if (o := row.get(f"Option{n} Value", "")))
    what = f"{handle} {' / '.join(options)}".strip()
    p = store.products.get(handle)
    if p is None:
        return refuse("Handle", f"no product with handle {handle!r}")
    v = p.variant(options)
    if v is None:
        have = ", ".join(" / ".join(x.options) for x in p.variants)
        return refuse("Option1 Value", f"{handle} has no variant {' / '.join(options)!r} "
                                       f"(it has {have})")
    if row.get("SKU") and row["SKU"] != v.sku:
        return refuse("SKU", f"SKU {row['SKU']} is not the SKU of {what} ({v.sku or 'none'})")
    if location not in store.locations:
        return refuse("Location", f"no location {location!r} (the store has "
                                  f"{', '.join(store.locations)})")
    key = (handle, options, location)
    if key in seen:
        return refuse("Location", f"{what} at {location} is already on line {seen[key]}")
    seen[key] = line
    cell = row[quantity]
    if not cell:
        return
    if cell.lower() == NOT_STOCKED:
        new: Level = NOT_STOCKED
    elif WHOLE.match(cell):
        new = int(cell)
    else:
        return refuse(quantity, f"{cell!r} is not a whole number or 'not stocked'")
    if v.tracker != "shopify":
        return refuse(quantity, f"{what} is not tracked (Inventory tracker "
                                f"{v.tracker or 'blank'}): it has no inventory rows")
    levels = store.levels.setdefault((handle, options), {})
    before = levels.get(location)
    if "On hand (current)" in row:
        current = row["On hand (current)"]
        if not current:
            return refuse("On hand (current)", f"blank: Shopify imports a row only when On "
                                               f"hand (current) is the on-hand quantity at "
                                               f"import ({_shown(before)})")
        if current.lower() != _shown(before).lower():
            return refuse("On hand (current)", f"{current!r} but {what} has "
                                               f"{_shown(before)} at {location}: Shopify "
                                               "skips a row whose stock changed since export")
    levels[location] = new
    res.changed.append((v.sku, location, before, new))


def _shown(level: Level | None) -> str:
    """How an export shows a level: never set reads as 0 (stricter: nothing else is
    documented)."""
    return "0" if level is None else str(level)
