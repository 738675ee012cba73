"""One day of a fashion chain, told step by step (issue 16, "Kept in the repository").

The chain sells on two web shops that share one inventory, a WooCommerce shop and a
Shopify shop, and in two stores, Milano and Roma, whose tills drop POS files. The
ERP (an AS400) exports what it has per warehouse: MAG (the web warehouse), MI and RM
(the stores, which ship web orders too). It sends its acknowledgements of the
movement files back. The Shopify shop shows two locations: Magazzino (MAG), which
fulfils its web orders, and Milano (MI), for pick-up in store.

Every step says what happened, then checks what each shop and location shows, and
what the ERP got. The shops are the loopback ones, moving their own stock on orders,
cancellations and refunds as the real shops do; filebridge runs as the operator
runs it, from the command line. Times are UTC on 28 November 2026.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from conftest import write_profile
from helpers import read_csv
from shops.shopify import TOKEN, ShopifyServer
from shops.woocommerce import WooServer

TS, JK, SC = "TS-M", "JK-L", "SC-1"  # a T-shirt, a jacket, the last scarf
EXPORT_0200 = ("SKU;WH;QTY\n"
               "TS-M;MAG;5\nTS-M;MI;2\nTS-M;RM;1\n"
               "JK-L;MAG;2\nJK-L;MI;1\nJK-L;RM;0\n"
               "SC-1;MAG;1\nSC-1;MI;0\nSC-1;RM;0\n")
POS_HEAD = "RECEIPT;RIGA;NEG;SKU;QTY;WHEN\n"


def t(hhmm: str) -> float:
    return datetime.fromisoformat(f"2026-11-28T{hhmm}:00+00:00").timestamp()


def iso(hhmm: str) -> str:
    return f"2026-11-28T{hhmm}:00+00:00"


@dataclass
class Day:
    folder: Path
    woo: WooServer
    shopify: ShopifyServer
    env: dict[str, str]

    def run(self, *args: str, code: int = 0) -> str:
        r = subprocess.run([sys.executable, "-m", "filebridge", *args], cwd=self.folder,
                           env=self.env, capture_output=True, text=True, timeout=120,
                           check=False)
        assert r.returncode == code, r.stdout + r.stderr
        return r.stdout

    def drop(self, where: str, name: str, text: str) -> None:
        (self.folder / "inbox" / where / name).write_text(text, encoding="utf-8")

    def shows(self, sku: str) -> tuple[int | None, int | None, int | None]:
        """(WooCommerce, Shopify Magazzino, Shopify Milano)."""
        return (self.woo.stock(sku), self.shopify.stock(sku, "Magazzino"),
                self.shopify.stock(sku, "Milano"))

    def movements(self, seq: int) -> list[tuple[str, str, str, str, int, str, int]]:
        """The rows of the ERP's movement file ``seq``: (kind, source, order, sku, qty,
        occurred, oversold)."""
        rows = read_csv(self.folder / "outbox" / "erp" / f"MOV{seq:06d}.csv", ";")
        assert all(r["seq"] == str(seq) for r in rows)
        return [(r["kind"], r["source"], r["order"], r["sku"], int(r["qty"]), r["occurred"],
                 int(r["oversold"])) for r in rows]

    def no_movement_file(self, seq: int) -> bool:
        return not (self.folder / "outbox" / "erp" / f"MOV{seq:06d}.csv").exists()


def profiles(folder: Path) -> None:
    """The merchant's setup: the ERP's figures (with movement files back), the stores'
    POS files and the ERP's acknowledgements, all of one inventory, "fashion"."""
    shopify = {"format": "shopify_api", "url": "${SHOP_URL}", "token": "${SHOP_TOKEN}",
               "sync": "stock", "limits": {"max_backoff": 0.05}}
    shops = [{"id": "woo", "format": "woocommerce_api", "url": "${WOO_URL}", "sync": "stock",
              "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}",
              "limits": {"max_backoff": 0.05}},
             shopify | {"id": "shopify", "location": "Magazzino"},
             shopify | {"id": "shopify-milano", "location": "Milano"}]

    def profile(name: str, fields: dict, stock: dict, write: list) -> None:
        (folder / "inbox" / name).mkdir(parents=True)
        write_profile(folder, {
            "name": name, "source": {"kind": "local", "path": f"../inbox/{name}",
                                     "pattern": ["*.csv"], "ready": {"stable_for": "0s"}},
            "read": {"format": "csv", "delimiter": ";", "fields": fields},
            "map": {"key": "sku"}, "stock": {"inventory": "fashion"} | stock, "write": write,
            "feedback": {"ack": {"path": f"../feedback/{name}/{{stem}}.ack.csv"}},
            "ledger": "../ledger.db"}, f"{name}.yaml")

    qty = {"QTY": {"type": "integer"}}
    profile("erp", qty, {
        "sku": "SKU", "quantity": "QTY", "location": "WH",
        "as_of": {"name": r"DISPO_(\d{8}_\d{4})", "timezone": "UTC"},
        "locations": {"Magazzino": ["MAG"], "Milano": ["MI"]},
        "erp_knows": "acknowledged",
        "feedback": {"path": "../outbox/erp/MOV{seq:06d}.csv", "columns": [
            "seq", "kind", "source", "order", "sku", "qty", "occurred", "oversold"]}}, shops)
    profile("pos", qty, {"role": "movements", "sku": "SKU", "quantity": "QTY",
                         "location": "NEG", "receipt": "RECEIPT", "receipt_line": "RIGA",
                         "at": "WHEN"}, shops)
    profile("acks", {"SEQ": {"type": "integer"}}, {"role": "acks", "ack": "SEQ"}, [])


def test_one_day_of_a_fashion_chain(workdir: Path, cli_env: dict[str, str]) -> None:
    with WooServer(key="ck_day", secret="cs_day") as woo, \
            ShopifyServer(locations=("Magazzino", "Milano")) as shopify:
        for sku in (TS, JK, SC):  # the catalogue is online; stock comes from the ERP
            woo.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                             "stock_quantity": 0})
            shopify.add_variant(sku, {"Magazzino": 0, "Milano": 0})
        profiles(workdir)
        day = Day(workdir, woo, shopify, cli_env | {
            "WOO_URL": woo.url, "WOO_KEY": "ck_day", "WOO_SECRET": "cs_day",
            "SHOP_URL": shopify.url, "SHOP_TOKEN": TOKEN, "TZ": "UTC"})
        ids: dict[str, object] = {}
        for step in (the_0200_export, an_order_while_the_0400_export_is_taken,
                     the_0200_bytes_again_at_0400, the_stores_open,
                     web_orders_on_both_shops, milano_resends_its_day_reordered,
                     a_customer_cancels, a_return_and_a_refund_without_return,
                     two_shops_sell_the_last_scarf, a_faulty_jacket_kept_with_a_refund,
                     the_erp_acknowledges_the_day):
            step(day, ids)


def the_0200_export(day: Day, ids: dict) -> None:
    """02:00: the ERP exports its stock; the file lands at 02:10. Each shop gets what
    may be sold: WooCommerce the sum of every warehouse, Shopify's Magazzino the web
    warehouse, Milano the store."""
    day.drop("erp", "DISPO_20261128_0200.csv", EXPORT_0200)
    day.run("run", "profiles/erp.yaml")
    assert day.shows(TS) == (8, 5, 2)
    assert day.shows(JK) == (3, 2, 1)
    assert day.shows(SC) == (1, 1, 0)


def an_order_while_the_0400_export_is_taken(day: Day, ids: dict) -> None:
    """03:58: a night owl buys a T-shirt on WooCommerce, while the ERP is taking its
    04:00 export. WooCommerce takes the piece from its own count at once; the other
    shop does not know yet."""
    ids["W-a"] = day.woo.add_order([(TS, 1)], created=t("03:58"))
    assert day.shows(TS) == (7, 5, 2)


def the_0200_bytes_again_at_0400(day: Day, ids: dict) -> None:
    """04:00: nothing moved in the ERP, whose export has the very bytes of 02:00 and
    does not have the 03:58 order (the ERP only learns of web orders from our movement
    files). It is a new export all the same, not a duplicate: it is applied. Before
    pushing, filebridge reads the shops' new orders: the 03:58 sale counts against the
    export, so the T-shirt is not sold twice, and WooCommerce, which took it already,
    is not decremented a second time."""
    day.drop("erp", "DISPO_20261128_0400.csv", EXPORT_0200)
    day.run("run", "profiles/erp.yaml")
    [ack] = read_csv(day.folder / "feedback" / "erp" / "DISPO_20261128_0400.ack.csv", ";")
    assert ack["read"] == "9" and ack["rejected"] == "0"
    assert day.shows(TS) == (7, 4, 2)
    assert day.shows(JK) == (3, 2, 1)


def the_stores_open(day: Day, ids: dict) -> None:
    """09:40 and 09:50: Milano sells a T-shirt and a jacket on one receipt, Roma a
    T-shirt. At 10:00 each till drops its day so far. The web sees the stores' sales at
    once: Milano's pieces leave Milano's figure, Roma's the total."""
    day.drop("pos", "POS_MI_20261128_1000.csv", POS_HEAD
             + f"MI-0001;1;MI;{TS};1;{iso('09:40')}\nMI-0001;2;MI;{JK};1;{iso('09:40')}\n")
    day.drop("pos", "POS_RM_20261128_1000.csv", POS_HEAD
             + f"RM-0001;1;RM;{TS};1;{iso('09:50')}\n")
    day.run("run", "profiles/pos.yaml")
    assert day.shows(TS) == (5, 4, 1)
    assert day.shows(JK) == (2, 2, 0)


def web_orders_on_both_shops(day: Day, ids: dict) -> None:
    """10:15: a customer buys two T-shirts on WooCommerce, another a jacket on Shopify
    (shipped from Magazzino). Each shop takes its own pieces. At 10:20 the operator's
    schedule runs `filebridge feedback`: the orders are read, every other shop and
    location is told, and the ERP gets its first movement file with the three web
    sales of the day, the 03:58 one included. Store sales are not in it: the tills
    feed the ERP themselves."""
    ids["W-b"] = day.woo.add_order([(TS, 2)], created=t("10:15"))
    ids["S-a"] = day.shopify.add_order([(JK, 1)], created=t("10:15"), location="Magazzino")
    assert day.shows(TS) == (3, 4, 1) and day.shows(JK) == (2, 1, 0)
    day.run("feedback", "profiles/erp.yaml")
    assert day.shows(TS) == (3, 2, 1)
    assert day.shows(JK) == (1, 1, 0)
    assert day.movements(1) == [
        ("sale", "web:woo", str(ids["W-a"]), TS, -1, iso("03:58"), 0),
        ("sale", "web:woo", str(ids["W-b"]), TS, -2, iso("10:15"), 0),
        ("sale", "web:shopify", str(ids["S-a"]), JK, -1, iso("10:15"), 0)]


def milano_resends_its_day_reordered(day: Day, ids: dict) -> None:
    """10:30: Milano's till sends its day so far again: a new receipt first (a T-shirt
    at 10:25), then the 09:40 receipt with its lines the other way round. Only the new
    sale counts."""
    day.drop("pos", "POS_MI_20261128_1030.csv", POS_HEAD
             + f"MI-0002;1;MI;{TS};1;{iso('10:25')}\n"
             + f"MI-0001;2;MI;{JK};1;{iso('09:40')}\nMI-0001;1;MI;{TS};1;{iso('09:40')}\n")
    day.run("run", "profiles/pos.yaml")
    assert day.shows(TS) == (2, 2, 0)
    assert day.shows(JK) == (1, 1, 0)


def a_customer_cancels(day: Day, ids: dict) -> None:
    """11:00: the customer of the two T-shirts cancels. WooCommerce puts them back in
    its own count; at 11:05 the next pull tells the other shop and the ERP (a
    cancellation, +2)."""
    day.woo.set_status(ids["W-b"], "cancelled", t("11:00"))
    assert day.shows(TS) == (4, 2, 0)
    day.run("feedback", "profiles/erp.yaml")
    assert day.shows(TS) == (4, 4, 0)
    assert day.movements(2) == [("cancel", "web:woo", str(ids["W-b"]), TS, 2, iso("11:00"), 0)]


def a_return_and_a_refund_without_return(day: Day, ids: dict) -> None:
    """12:00: two T-shirts sold on WooCommerce, pulled at 12:05. At 12:30 the customer
    returns one (refunded and restocked) and is refunded for the other, which she
    keeps (refunded, not restocked). Only the returned piece comes back: on the shop,
    online elsewhere and in the ERP's file."""
    ids["W-c"] = day.woo.add_order([(TS, 2)], created=t("12:00"))
    day.run("feedback", "profiles/erp.yaml")
    assert day.shows(TS) == (2, 2, 0)
    assert day.movements(3) == [("sale", "web:woo", str(ids["W-c"]), TS, -2, iso("12:00"), 0)]
    day.woo.refund(ids["W-c"], {TS: 1}, t("12:30"), restock=True)
    day.woo.refund(ids["W-c"], {TS: 1}, t("12:31"), restock=False)
    assert day.woo.stock(TS) == 3
    day.run("feedback", "profiles/erp.yaml")
    assert day.shows(TS) == (3, 3, 0)
    assert day.movements(4) == [("refund", "web:woo", str(ids["W-c"]), TS, 1, iso("12:31"),
                                 0)]


def two_shops_sell_the_last_scarf(day: Day, ids: dict) -> None:
    """13:00: the last scarf sells on WooCommerce and, half a minute later, on Shopify,
    before either sale is read. One of them cannot be served. At 13:05 both shops show
    0 and everybody is told the scarf is oversold by one: the ERP in its movement
    file, the operator in `filebridge status` and `filebridge reconcile`."""
    ids["W-d"] = day.woo.add_order([(SC, 1)], created=t("13:00"))
    ids["S-b"] = day.shopify.add_order([(SC, 1)], created=t("13:00") + 30,
                                       location="Magazzino")
    assert day.shows(SC) == (0, 0, 0)
    day.run("feedback", "profiles/erp.yaml")
    assert day.shows(SC) == (0, 0, 0)  # never below 0 on a shop
    assert sorted(day.movements(5)) == sorted([
        ("sale", "web:woo", str(ids["W-d"]), SC, -1, iso("13:00"), 1),
        ("sale", "web:shopify", str(ids["S-b"]), SC, -1, "2026-11-28T13:00:30+00:00", 1)])
    status = day.run("status", "--profile", "profiles/erp.yaml")
    assert "oversold_skus=1 oversold_units=1" in status, status
    report = day.run("reconcile", "profiles/erp.yaml", code=1)
    assert "0 drifting, 1 oversold (1 units)" in report, report


def a_faulty_jacket_kept_with_a_refund(day: Day, ids: dict) -> None:
    """13:30: the last jacket online sells on Shopify; at 13:35 the pull tells
    WooCommerce and the ERP. At 13:45 the customer reports a flaw and is refunded
    without sending it back (no restock): Shopify keeps it out of stock, and so does
    everyone else; the ERP gets no movement, since nothing came back."""
    ids["S-c"] = day.shopify.add_order([(JK, 1)], created=t("13:30"), location="Magazzino")
    day.run("feedback", "profiles/erp.yaml")
    assert day.shows(JK) == (0, 0, 0)
    assert day.movements(6) == [("sale", "web:shopify", str(ids["S-c"]), JK, -1,
                                 iso("13:30"), 0)]
    day.shopify.refund(ids["S-c"], {JK: 1}, t("13:45"), restock_type="NO_RESTOCK")
    day.run("feedback", "profiles/erp.yaml")
    assert day.shows(JK) == (0, 0, 0)
    assert day.no_movement_file(7)


def the_erp_acknowledges_the_day(day: Day, ids: dict) -> None:
    """14:00: the ERP confirms it booked movement files 1 to 6. Its figures are still
    those of 04:00, which did not have these sales: acknowledging them changes nothing
    online, and the next pull finds nothing new, so no new movement file is made."""
    day.drop("acks", "ACK_20261128_1400.csv", "SEQ\n1\n2\n3\n4\n5\n6\n")
    day.run("run", "profiles/acks.yaml")
    day.run("feedback", "profiles/erp.yaml")
    assert day.no_movement_file(7)
    assert day.shows(TS) == (3, 3, 0)
    assert day.shows(JK) == (0, 0, 0)
    assert day.shows(SC) == (0, 0, 0)
    status = day.run("status", "--profile", "profiles/erp.yaml")
    assert "to_erp=0 awaiting_ack=0 acknowledged=9 store=4" in status, status
