"""After the shops' orders are pulled, every shop and location sharing the inventory
is told what may now be sold (issue 16, defect 4), the shop the sale came from with
the same figure (it took the units itself: never a second decrement), and a shop
written at two locations is pulled once."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import write_profile
from shops.shopify import TOKEN, ShopifyServer
from shops.woocommerce import WooServer

from filebridge.ledger.sqlite import SqliteLedger
from filebridge.stock.inventory import Inventory
from filebridge.stock.spec import StockSpec


def t(hhmm: str) -> float:
    return datetime.fromisoformat(f"2026-11-28T{hhmm}:00+00:00").timestamp()


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "filebridge", *args], cwd=cwd, env=env, check=False,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture
def shops(workdir, cli_env):
    with WooServer(key="ck_p", secret="cs_p") as woo, \
            ShopifyServer(locations=("Magazzino", "Milano")) as shopify:
        for sku in ("A", "B"):
            woo.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                             "stock_quantity": 0})
            shopify.add_variant(sku, {"Magazzino": 0, "Milano": 0})
        env = cli_env | {"WOO_URL": woo.url, "WOO_KEY": "ck_p", "WOO_SECRET": "cs_p",
               "SHOP_URL": shopify.url, "SHOP_TOKEN": TOKEN,
                         "TZ": "UTC"}
        shopify_sink = {"format": "shopify_api", "url": "${SHOP_URL}", "token": "${SHOP_TOKEN}",
                        "sync": "stock", "limits": {"max_backoff": 0.05}}
        write_profile(workdir, {
            "name": "erp",
            "source": {"kind": "local", "path": "../inbox/erp", "pattern": ["*.csv"],
                       "ready": {"stable_for": "0s"}},
            "read": {"format": "csv", "delimiter": ";", "fields": {"QTY": {"type": "integer"}}},
            "map": {"key": "sku"},
            "stock": {"inventory": "shared", "sku": "SKU", "quantity": "QTY",
                      "location": "WH", "as_of": {"name": r"DISPO_(\d{8}_\d{4})",
                                                  "timezone": "UTC"},
                      "locations": {"Magazzino": ["MAG"], "Milano": ["MI"]},
                      "feedback": {"path": "../outbox/MOV{seq:04d}.csv"}},
            "write": [{"id": "woo", "format": "woocommerce_api", "url": "${WOO_URL}",
                       "sync": "stock", "consumer_key": "${WOO_KEY}",
                       "consumer_secret": "${WOO_SECRET}",
                       "limits": {"max_backoff": 0.05}},
                      shopify_sink | {"id": "shopify-mag", "location": "Magazzino"},
                      shopify_sink | {"id": "shopify-mi", "location": "Milano"}],
            "ledger": "../ledger.db"}, "erp.yaml")
        (workdir / "inbox" / "erp").mkdir()
        (workdir / "inbox" / "erp" / "DISPO_20261128_0200.csv").write_text(
            "SKU;WH;QTY\nA;MAG;5\nA;MI;2\nB;MAG;3\n")
        cli("run", "profiles/erp.yaml", cwd=workdir, env=env)
        yield woo, shopify, env


def seen(woo: WooServer, shopify: ShopifyServer, sku: str) -> tuple:
    return woo.stock(sku), shopify.stock(sku, "Magazzino"), shopify.stock(sku, "Milano")


def test_a_sale_on_one_shop_reaches_the_other_and_the_first_is_not_decremented_twice(
        workdir, shops):
    woo, shopify, env = shops
    assert seen(woo, shopify, "A") == (7, 5, 2)
    woo.add_order([("A", 2)], created=t("10:00"))  # the shop takes 2 itself: 5
    assert seen(woo, shopify, "A") == (5, 5, 2)
    r = cli("feedback", "profiles/erp.yaml", cwd=workdir, env=env)
    assert "1 new movements" in r.stdout
    assert seen(woo, shopify, "A") == (5, 3, 2)  # web sales count at the web warehouse
    shopify.add_order([("A", 1), ("B", 1)], created=t("10:05"), location="Magazzino")
    cli("feedback", "profiles/erp.yaml", cwd=workdir, env=env)
    assert seen(woo, shopify, "A") == (4, 2, 2)
    assert seen(woo, shopify, "B") == (2, 2, 0)  # no B at MI: 0 there
    # The Shopify shop has two sinks (two locations) and one set of orders: once.
    inv = Inventory(SqliteLedger(workdir / "ledger.db"),
                    StockSpec.model_validate({"inventory": "shared", "role": "acks"}))
    assert sorted((m.source, m.sku, m.qty) for m in inv.movements()) == [
        ("web:shopify-mag", "A", -1), ("web:shopify-mag", "B", -1), ("web:woo", "A", -2)]
    # A pull that finds nothing pushes nothing.
    calls = len(woo.calls)
    cli("feedback", "profiles/erp.yaml", cwd=workdir, env=env)
    assert [c for c in woo.calls[calls:] if c[0] != "GET"] == []


def test_a_shop_that_cannot_be_told_keeps_the_change_queued_until_the_next_pull(
        workdir, shops):
    woo, shopify, env = shops
    shopify.add_order([("B", 1)], created=t("10:00"), location="Magazzino")
    woo.faults.fail(1000, status=503, match="/products")  # WooCommerce is down for writes
    cli("feedback", "profiles/erp.yaml", cwd=workdir, env=env)
    assert (woo.stock("B"), shopify.stock("B", "Magazzino")) == (3, 2)
    st = cli("status", "--profile", "profiles/erp.yaml", cwd=workdir, env=env).stdout
    assert "queued=1" in st, st
    woo.faults.clear()
    cli("feedback", "profiles/erp.yaml", cwd=workdir, env=env)  # nothing new was sold
    assert woo.stock("B") == 2


def test_the_same_figure_queued_again_later_is_a_new_change(tmp_path):
    """5, then 4, then 5 again: the second 5 must not reuse the first one's
    idempotency key, or Shopify answers the first call's result (or refuses the
    key) instead of applying it."""
    from filebridge.ledger.changelog import ChangeLog

    log = ChangeLog(SqliteLedger(tmp_path / "l.db"), "inventory:x", "shopify")
    for stock in (5, 4, 5):
        log.enqueue([("A", "upsert", stock, None, f'{{"sku": "A", "stock": {stock}}}')], None)
    keys = [k for (k,) in log.db.execute("SELECT idem FROM outbox ORDER BY id")]
    assert len(keys) == 3 and len(set(keys)) == 3
    log.enqueue([("A", "upsert", 5, None, '{"sku": "A", "stock": 5}')], 7)  # a run's: fixed
    log.enqueue([("A", "upsert", 5, None, '{"sku": "A", "stock": 5}')], 7)
    again = [k for (k,) in log.db.execute("SELECT idem FROM outbox WHERE run_id=7")]
    assert again[0] == again[1]


def test_check_says_where_the_files_for_the_erp_go(workdir, cli_env):
    """Issue 16, defect 6: without feedback paths the acks land beside the profiles,
    and without stock.feedback no movement file is ever written; check says both."""
    base = {"source": {"kind": "local", "path": "../inbox/x", "pattern": ["*.csv"]},
            "read": {"format": "csv", "delimiter": ";", "fields": {"QTY": {"type": "integer"}}},
            "map": {"key": "sku"}, "ledger": "../ledger.db",
            "write": [{"format": "woocommerce_api", "url": "http://127.0.0.1:9",
                       "sync": "stock", "consumer_key": "${K}", "consumer_secret": "${S}"}]}
    bare = write_profile(workdir, base | {"name": "bare", "stock": {"sku": "SKU",
                                                                     "quantity": "QTY"}},
                         "bare.yaml")
    told = write_profile(workdir, base | {  # an inbox of its own: check refuses a shared one
        "source": {"kind": "local", "path": "../inbox/y", "pattern": ["*.csv"]},
        "name": "told", "feedback": {"ack": {"path": "../acks/{stem}.ack"}, "rejects": None},
        "stock": {"sku": "SKU", "quantity": "QTY",
                  "feedback": {"path": "../outbox/MOV{seq:06d}.csv"}}}, "told.yaml")
    env = cli_env | {"K": "ck", "S": "cs"}
    out = cli("check", str(bare), str(told), cwd=workdir, env=env).stdout
    profiles = workdir / "profiles"
    assert f"bare.yaml: note: feedback.ack not set: written to " \
           f"{profiles / 'feedback/{stem}.ack.csv'}" in out, out
    assert "bare.yaml: note: stock.feedback not set: no movement files are written" in out
    assert f"told.yaml: note: movement files for the ERP: " \
           f"{profiles / '../outbox/MOV{seq:06d}.csv'}" in out
    assert "told.yaml: note: feedback." not in out
