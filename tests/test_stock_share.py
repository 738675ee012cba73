"""A store's sales reach the shops of the other profiles sharing the inventory
(issue "constant dialogue", defect 4 and the webhooks section: "a POS file's sales
reach every shop within 5 s of the file being complete").

The merchant keeps one profile per flow, all on the inventory "chain" in one folder:
the ERP's figures (with movement files back), a Shopify stock profile, a WooCommerce
stock profile (each taking the ERP's export for its shop) and the stores' POS files,
which list no shop. A POS file selling 2 of X-1 must show on both shops right after
its run, under ``filebridge watch`` within 5 s, and a resent file changes nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_profile
from shops.shopify import TOKEN, ShopifyServer
from shops.woocommerce import WooServer
from test_stock_day import POS_HEAD, Day, iso

from filebridge.ledger.changelog import outbox_counts
from filebridge.ledger.sqlite import SqliteLedger

EXPORT = "SKU;WH;QTY\nX-1;MAG;10\nX-1;MI;3\nX-2;MAG;4\n"
SALE = POS_HEAD + f"MI-0001;1;MI;X-1;2;{iso('10:00')}\n"


def profiles(folder: Path) -> None:
    """erp.yaml, shopify.yaml, woo.yaml and pos.yaml on the inventory "chain"."""
    fields = {"QTY": {"type": "integer"}}

    def profile(name: str, stock: dict, write: list) -> None:
        (folder / "inbox" / name).mkdir(parents=True)
        write_profile(folder, {
            "name": name, "source": {"kind": "local", "path": f"../inbox/{name}",
                                     "pattern": ["*.csv"], "ready": {"stable_for": "0s"}},
            "read": {"format": "csv", "delimiter": ";", "fields": fields},
            "map": {"key": "sku"}, "write": write,
            "stock": {"inventory": "chain", "sku": "SKU", "quantity": "QTY",
                      "location": "WH"} | stock,
            "feedback": {"ack": {"path": f"../feedback/{name}/{{stem}}.ack.csv"}},
            "ledger": "../ledger.db"}, f"{name}.yaml")

    figures = {"as_of": {"name": r"DISPO_(\d{8}_\d{4})", "timezone": "UTC"}}
    limits = {"max_backoff": 0.05}
    profile("erp", figures | {"feedback": {"path": "../outbox/erp/MOV{seq:06d}.csv"}},
            [{"format": "csv", "path": "../outbox/erp/avail-{stem}.csv"}])
    profile("shopify", figures, [{"id": "shopify", "format": "shopify_api", "url": "${SHOP_URL}",
                                  "token": "${SHOP_TOKEN}", "sync": "stock", "limits": limits}])
    profile("woo", figures, [{"id": "woo", "format": "woocommerce_api", "url": "${WOO_URL}",
                              "sync": "stock", "consumer_key": "${WOO_KEY}",
                              "consumer_secret": "${WOO_SECRET}", "limits": limits}])
    profile("pos", {"role": "movements", "location": "NEG", "receipt": "RECEIPT",
                    "receipt_line": "RIGA", "at": "WHEN"}, [])


@pytest.fixture
def chain(workdir: Path, cli_env: dict[str, str]):
    """The four profiles, the ERP's 02:00 export taken by each figures profile: both
    shops show 13 of X-1 (every warehouse) and 4 of X-2."""
    with WooServer(key="ck_c", secret="cs_c") as woo, ShopifyServer() as shopify:
        for sku in ("X-1", "X-2"):
            woo.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                             "stock_quantity": 0})
            shopify.add_variant(sku, {"Warehouse": 0})
        profiles(workdir)
        day = Day(workdir, woo, shopify, cli_env | {
            "WOO_URL": woo.url, "WOO_KEY": "ck_c", "WOO_SECRET": "cs_c",
            "SHOP_URL": shopify.url, "SHOP_TOKEN": TOKEN, "TZ": "UTC"})
        for name in ("erp", "shopify", "woo"):
            day.drop(name, "DISPO_20261128_0200.csv", EXPORT)
            day.run("run", f"profiles/{name}.yaml")
        assert shows(day, "X-1") == (13, 13) and shows(day, "X-2") == (4, 4)
        yield day


def shows(day: Day, sku: str) -> tuple[int | None, int | None]:
    """(WooCommerce, Shopify)."""
    return day.woo.stock(sku), day.shopify.stock(sku, "Warehouse")


def queued_ever(day: Day) -> int:
    """Every change the outbox ever held, for any shop of the inventory."""
    ledger = SqliteLedger(day.folder / "ledger.db")
    try:
        return sum(sum(c.values()) for c in outbox_counts(ledger).values())
    finally:
        ledger.close()


def test_a_pos_file_reaches_the_shops_of_every_profile_sharing_the_inventory(chain: Day):
    day = chain
    assert ("also told of this stock (outputs of profiles sharing inventory chain): "
            "shopify (shopify.yaml), woo (woo.yaml)") in day.run("check", "profiles/pos.yaml")
    day.drop("pos", "POS_MI_20261128_1000.csv", SALE)
    out = day.run("run", "profiles/pos.yaml")
    assert "POS_MI_20261128_1000.csv: done (read 1, sent 1" in out, out
    assert shows(day, "X-1") == (11, 11)
    assert shows(day, "X-2") == (4, 4)  # not in the file: left alone
    # Resent: the same bytes (a duplicate), then the same receipt in a new file whose
    # bytes differ: nothing new is queued or sent to either shop.
    before, calls = queued_ever(day), len(day.woo.calls)
    day.drop("pos", "POS_MI_20261128_1000_bis.csv", SALE)
    assert "duplicate" in day.run("run", "profiles/pos.yaml")
    day.drop("pos", "POS_MI_20261128_1005.csv", SALE.replace("\n", "\r\n"))
    assert "done (read 1, sent 0, unchanged 1" in day.run("run", "profiles/pos.yaml")
    assert queued_ever(day) == before
    assert [c for c in day.woo.calls[calls:] if c[0] != "GET"] == []
    assert shows(day, "X-1") == (11, 11)
    # The shops' own profiles do not send it again with their next export either.
    day.drop("woo", "DISPO_20261128_0400.csv", EXPORT)
    day.run("run", "profiles/woo.yaml")
    assert shows(day, "X-1") == (11, 11) and queued_ever(day) == before


def test_a_shop_down_or_a_crash_before_sending_leaves_the_change_for_the_next_pass(
        chain: Day):
    day = chain
    day.woo.faults.fail(1000, status=503, match="/products")  # WooCommerce refuses writes
    day.drop("pos", "POS_MI_20261128_1000.csv", SALE)
    day.run("run", "profiles/pos.yaml", code=6)  # queued for woo: exit 6, said so
    assert shows(day, "X-1") == (13, 11)
    day.woo.faults.clear()
    assert "nothing" in day.run("run", "profiles/pos.yaml")  # no new file: the queue goes
    assert shows(day, "X-1") == (11, 11)
    # Killed once the file's changes for the first shop are queued, before any is sent:
    # the next run sends them and finishes the file, each shop told once.
    day.drop("pos", "POS_MI_20261128_1100.csv", SALE + f"MI-0002;1;MI;X-1;1;{iso('10:30')}\n")
    crash = subprocess.run([sys.executable, "-m", "filebridge", "run", "profiles/pos.yaml"],
                           cwd=day.folder, env=day.env | {"FILEBRIDGE_CRASH_AT": "api.queued"},
                           capture_output=True, text=True, timeout=120, check=False)
    assert crash.returncode == -signal.SIGKILL, crash.stdout + crash.stderr
    assert shows(day, "X-1") == (11, 11)
    assert "POS_MI_20261128_1100.csv: done" in day.run("run", "profiles/pos.yaml")
    assert shows(day, "X-1") == (10, 10)


def test_under_watch_a_pos_file_shows_on_every_shop_within_5_seconds(chain: Day):
    day = chain
    watch = subprocess.Popen([sys.executable, "-m", "filebridge", "watch"], cwd=day.folder,
                             env=day.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    try:
        time.sleep(2)  # the watchers are up (they would take the file later, not miss it)
        tmp = day.folder / "inbox" / "pos" / ".POS_MI_20261128_1000.tmp"
        tmp.write_text(SALE, encoding="utf-8")
        os.replace(tmp, tmp.with_name("POS_MI_20261128_1000.csv"))  # complete from now
        start = time.monotonic()
        while shows(day, "X-1") != (11, 11) and time.monotonic() - start < 10:
            time.sleep(0.02)
        took = time.monotonic() - start
        assert shows(day, "X-1") == (11, 11)
        assert took < 5, f"{took:.2f} s"
    finally:
        watch.send_signal(signal.SIGTERM)
        out, _ = watch.communicate(timeout=30)
    assert "POS_MI_20261128_1000.csv: done" in out, out


def test_a_web_sale_pulled_by_one_shops_profile_reaches_the_other_shop(chain: Day):
    """The same fan-out after a pull (here the one reconcile starts with; the schedule's,
    feedback's and the webhooks' push goes the same way): a WooCommerce sale read by
    woo.yaml is told to the Shopify shop of shopify.yaml, WooCommerce itself given the
    same absolute figure (it took the units already: never a second decrement)."""
    day = chain
    day.woo.add_order([("X-1", 2)])
    assert shows(day, "X-1") == (11, 13)
    day.run("reconcile", "profiles/woo.yaml")
    assert shows(day, "X-1") == (11, 11)
