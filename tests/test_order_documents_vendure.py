"""Order documents from a real Vendure 3.7 (tests/shops/vendure.py): placed, partly
cancelled (Vendure lowers the line and recomputes the totals: a change) and cancelled,
each version once, in the sample profile's fixed-width layout. The expected records
are built from the order as Vendure itself answers for it, in a query of its own."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import write_profile
from shops.vendure import PASSWORD, USER, VendureShop
from test_order_documents import (
    PEOPLE,
    control_totals_match,
    pull_and_write,
    records,
    sample_layout,
)

ADDRESS = {"fullName": "Maria Rossi", "streetLine1": "Hauptstrasse 1", "city": "Berlin",
           "postalCode": "10115", "countryCode": "DE", "phoneNumber": "+49 30 1234567"}
PEOPLE_HERE = (*PEOPLE, "Hauptstrasse", "Test Buyer", "buyer@example.com", "10115")


@pytest.fixture(scope="module")
def shop():
    with VendureShop(USER, PASSWORD) as s:
        yield s


def layout() -> dict[str, Any]:
    """The sample layout, the order keyed by Vendure's id where the number was: the
    number people see (the order code) is 16 characters, wider than that field."""
    out = sample_layout() | {"path": "../outbox/ORD{seq:06d}.TXT"}
    for part in ("header", "line"):
        out[part] = {("order" if k == "number" else k): v for k, v in out[part].items()}
    return out


def cents(v: Any, width: int) -> str:
    return f"{int(v):0{width}d}"


def expected(shop: VendureShop, order_id: str, seq: int, kind: str, version: int
             ) -> list[str]:
    o = shop.gql("query($o:ID!){order(id:$o){code orderPlacedAt currencyCode subTotal shipping "
                 "total totalWithTax lines{quantity orderPlacedQuantity unitPrice linePrice "
                 "proratedLinePrice lineTax taxRate productVariant{sku}}}}",
                 {"o": order_id})["order"]
    from datetime import datetime
    from zoneinfo import ZoneInfo

    day = datetime.fromisoformat(o["orderPlacedAt"]).astimezone(ZoneInfo("Europe/Rome"))
    vat = o["totalWithTax"] - o["total"]
    head = ("H" + f"{seq:06d}" + kind + f"{version:03d}" + order_id.ljust(12)
            + day.strftime("%Y%m%d") + o["currencyCode"] + "manual".ljust(15)
            + "Test Buyer".ljust(30) + "buyer@example.com".ljust(40)
            + "Hauptstrasse 1".ljust(30) + "10115".ljust(8) + "Berlin".ljust(20) + "DE"
            + cents(o["subTotal"], 11) + cents(o["shipping"], 9) + cents(0, 9)
            + cents(vat, 9) + cents(o["totalWithTax"], 11) + cents(0, 11))
    lines = ["L" + f"{seq:06d}" + order_id.ljust(12) + f"{i:03d}"
             + li["productVariant"]["sku"].ljust(15) + f"{li['quantity']:05d}"
             + f"{li['orderPlacedQuantity'] - li['quantity']:05d}"
             + cents(li["unitPrice"], 9) + cents(li["linePrice"] - li["proratedLinePrice"], 9)
             + cents(Decimal(str(li["taxRate"])) * 100, 5) + cents(li["lineTax"], 9)
             + cents(li["proratedLinePrice"], 11)
             for i, li in enumerate(o["lines"], start=1)]
    return [head, *lines]


def test_vendure_orders_become_documents_once_per_version(
        shop: VendureShop, workdir: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("VENDURE_USER", USER)
    monkeypatch.setenv("VENDURE_PASSWORD", PASSWORD)
    erp = write_profile(workdir, {
        "name": "erp", "source": {"kind": "local", "path": "../inbox/erp",
                                  "pattern": ["*.csv"], "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";", "fields": {"QTY": {"type": "integer"}}},
        "map": {"key": "sku"},
        "stock": {"inventory": "docs", "sku": "SKU", "quantity": "QTY",
                  "documents": layout()},
        "write": [{"id": "vendure", "format": "vendure_api", "url": shop.url,
                   "username": "${VENDURE_USER}", "password": "${VENDURE_PASSWORD}",
                   "sync": "stock", "limits": {"max_backoff": 0.05}}],
        "feedback": {"timezone": "Europe/Rome"}, "ledger": "../ledger.db"}, "erp.yaml")
    shop.ensure_variant("VD-A", price=1000)
    shop.ensure_variant("VD-B", price=550)
    order = shop.place_order([("VD-A", 2), ("VD-B", 3)], address=ADDRESS)["id"]

    [(seq, path, n)] = pull_and_write(erp)
    recs = records(path)
    assert (seq, n) == (1, 1)
    assert recs[:-1] == expected(shop, order, 1, "N", 1)
    assert recs[-1][:13] == "T000001000001"  # file 1, 1 document
    control_totals_match(recs)
    assert int(recs[0][179:190]) == 2 * 1000 + 3 * 550  # goods: what was ordered, net
    assert pull_and_write(erp) == []  # unchanged: nothing

    shop.cancel_order(order, [("VD-B", 1)])  # one unit off: Vendure recomputes the totals
    [(seq, path, n)] = pull_and_write(erp)
    recs = records(path)
    assert recs[:-1] == expected(shop, order, 2, "V", 2)
    assert int(recs[0][179:190]) == 2 * 1000 + 2 * 550
    control_totals_match(recs)

    shop.cancel_order(order)
    [(seq, path, n)] = pull_and_write(erp)
    assert records(path)[0][:11] == "H000003A003"
    assert pull_and_write(erp) == []
    assert not any(p in caplog.text for p in PEOPLE_HERE), caplog.text
