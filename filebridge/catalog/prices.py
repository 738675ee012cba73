"""The price a shop shows on a given day, for shops that cannot schedule a sale
(Shopify's CSV, Vendure): the sale price while ``sale_from``..``sale_to`` holds
the day (either end open), else the list price.

Such a shop only learns that a sale started or ended when a run sends the
record again on or after that day, so the outputs that send it hash
:func:`sale_in_force` with the record: the first file of the day a sale starts
or ends sends the products it concerns even when the file itself is unchanged.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.catalog.values import blank, money, text
from filebridge.errors import Bug


def in_force(rec: dict[str, Any], today: date) -> bool:
    """Whether the record's sale price applies on ``today`` (open ends allowed)."""
    if blank(rec.get("sale_price")):
        return False
    start, end = rec.get("sale_from"), rec.get("sale_to")
    day = today.isoformat()
    return (not start or start <= day) and (not end or day <= end)


def selling(rec: dict[str, Any], today: date) -> tuple[str, str]:
    """(price, compare-at price) a shop shows on ``today``, as decimal text."""
    sku = rec["sku"]
    price = money(rec.get("price"), "price", sku)
    compare = money(rec.get("compare_at_price"), "compare_at_price", sku)
    if in_force(rec, today):
        sale = money(rec.get("sale_price"), "sale_price", sku)
        return text(sale), text(price if price is not None else compare)
    return text(price), text(compare)


def sale_in_force(table: pa.Table, today: date) -> pa.Array | None:
    """Per row of a canonical table, whether its sale is in force on ``today``
    (None: the table has no sale price). Dates compare as ISO text."""
    if "sale_price" not in table.column_names:
        return None
    day = today.isoformat()

    def as_text(name: str) -> pa.Array | None:
        if name not in table.column_names:
            return None
        col = table[name].combine_chunks()
        return pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(pc.cast(col, pa.string())), 0, 10)

    price = as_text("sale_price")
    if price is None:
        raise Bug("expected price is not None")
    on = pc.fill_null(pc.not_equal(price, ""), False)
    for name, cmp in (("sale_from", pc.less_equal), ("sale_to", pc.greater_equal)):
        bound = as_text(name)
        if bound is None:
            continue
        open_end = pc.fill_null(pc.equal(bound, ""), True)
        on = pc.and_(on, pc.or_(open_end, pc.fill_null(cmp(bound, day), False)))
    return on
