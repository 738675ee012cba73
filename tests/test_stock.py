"""Shared stock with fixed times: the ERP's figure, web and store movements, what
the shop may sell. The 02:00 / 02:05 / 02:30 race must never oversell."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest
from conftest import write_profile
from helpers import read_csv
from shops.woocommerce import WooServer

from filebridge.ledger.sqlite import SqliteLedger
from filebridge.orders.base import OrderLine
from filebridge.records import Batch
from filebridge.stock.inventory import Inventory
from filebridge.stock.spec import StockSpec

DAY = "2026-11-27"


def t(hhmm: str) -> float:
    return datetime.fromisoformat(f"{DAY}T{hhmm}:00+00:00").timestamp()


def inventory(tmp_path: Path, **spec) -> Inventory:
    return Inventory(SqliteLedger(tmp_path / "l.db"), StockSpec.model_validate(spec))


def figures(inv: Inventory, file_id: int, rows: list[tuple], at: str) -> None:
    cols = ["sku", "stock", "location", "category"][:len(rows[0])]
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    inv.stage_figures(Batch.from_pydict(data, list(range(1, len(rows) + 1))), file_id, t(at))
    inv.commit_figures(file_id)


def sale(order: str, sku: str, qty: int, at: str, changed: str | None = None,
         line: str = "1") -> OrderLine:
    return OrderLine(order, line, sku, qty, "processing", t(at), t(changed or at))


def store(inv: Inventory, receipts: dict[str, list[tuple]], at: str) -> int:
    """Record POS receipts {receipt: [(sku, location, units sold)]} sold at ``at``."""
    return inv.record_store("pos:shop", [
        (r, [OrderLine(r, sku, sku, qty, "", t(at), t(at), loc) for sku, loc, qty in lines])
        for r, lines in receipts.items()], changed=t(at))


def test_the_0205_sale_is_not_sold_again_by_the_0200_export(tmp_path):
    inv = inventory(tmp_path)
    inv.record_orders("web:woo", [sale("W1", "A", 1, "02:05")])  # pulled before the file
    figures(inv, 1, [("A", 5), ("B", 2)], at="02:00")  # taken 02:00, landed 02:30
    assert inv.available(["A", "B"]) == {"A": 4, "B": 2}
    # The next export, at 04:00, includes the sale: nothing is taken off twice.
    figures(inv, 2, [("A", 4)], at="04:00")
    assert inv.available(["A"]) == {"A": 4}


def test_an_order_before_the_export_that_the_erp_had_not_acknowledged_still_counts(tmp_path):
    inv = inventory(tmp_path, erp_knows="acknowledged")
    inv.record_orders("web:woo", [sale("W1", "A", 1, "01:50")])
    figures(inv, 1, [("A", 5)], at="02:00")  # the ERP had not received it yet
    assert inv.available(["A"]) == {"A": 4}
    [m] = inv.unexported()
    seq, _ = inv.export([m.id], lambda seq, now: f"MOV{seq}.txt")
    assert inv.acknowledge(seqs=[seq], when=t("03:00")) == 1
    assert inv.available(["A"]) == {"A": 4}  # the 02:00 figure still lacks it
    figures(inv, 2, [("A", 4)], at="04:00")  # acknowledged at 03:00: in this figure
    assert inv.available(["A"]) == {"A": 4}


def test_cancel_and_refund_return_stock_and_a_repeat_delivery_counts_once(tmp_path):
    inv = inventory(tmp_path)
    figures(inv, 1, [("A", 5)], at="02:00")
    first = [sale("W1", "A", 2, "02:05")]
    assert inv.record_orders("web:woo", first) == 1
    assert inv.record_orders("web:woo", first) == 0  # the same order again: nothing
    assert inv.available(["A"]) == {"A": 3}
    inv.record_orders("web:woo", [sale("W1", "A", 1, "02:05", changed="02:20")])  # 1 refunded
    assert inv.available(["A"]) == {"A": 4}
    inv.record_orders("web:woo", [sale("W1", "A", 0, "02:05", changed="02:40")])  # cancelled
    assert inv.available(["A"]) == {"A": 5}
    kinds = [(m.kind, m.qty) for m in inv.movements()]
    assert kinds == [("sale", -2), ("refund", 1), ("cancel", 1)]


def test_an_order_line_that_changes_sku_gives_the_old_one_back(tmp_path):
    inv = inventory(tmp_path)
    figures(inv, 1, [("A", 5), ("B", 5)], at="02:00")
    inv.record_orders("web:woo", [sale("W1", "A", 2, "02:05")])
    moved: set[str] = set()
    inv.record_orders("web:woo", [OrderLine("W1", "1", "B", 2, "processing", t("02:05"),
                                            t("02:30"))], moved)
    assert inv.available(["A", "B"]) == {"A": 5, "B": 3}
    assert moved == {"A", "B"}
    assert [(m.kind, m.sku, m.qty, m.occurred) for m in inv.movements()] == [
        ("sale", "A", -2, t("02:05")), ("cancel", "A", 2, t("02:30")),
        ("sale", "B", -2, t("02:30"))]


def test_safety_stock_and_web_warehouses(tmp_path):
    inv = inventory(tmp_path, location="location", web=["MAG", "NEG1"],
                    safety=[{"sku": "BAG-*", "qty": 2}, {"field": "category",
                                                         "equals": "shoes", "qty": 1}])
    figures(inv, 1, [("BAG-1", 3, "MAG", "bags"), ("BAG-1", 2, "NEG1", "bags"),
                     ("BAG-1", 50, "OUTLET", "bags"), ("SH-1", 1, "MAG", "shoes"),
                     ("TS-1", 4, "NEG1", "tees")], at="02:00")
    assert inv.available(["BAG-1", "SH-1", "TS-1"]) == {"BAG-1": 3, "SH-1": 0, "TS-1": 4}
    # A store sale at NEG1 after the export lowers the web figure; one at the outlet not.
    store(inv, {"R1": [("TS-1", "NEG1", 1)], "R2": [("BAG-1", "OUTLET", 5)]}, at="02:10")
    assert inv.available(["BAG-1", "TS-1"]) == {"BAG-1": 3, "TS-1": 3}


def test_a_late_older_export_does_not_replace_a_newer_figure(tmp_path):
    inv = inventory(tmp_path)
    figures(inv, 1, [("A", 7)], at="04:00")
    figures(inv, 2, [("A", 2)], at="02:00")  # delivered late
    assert inv.available(["A"]) == {"A": 7}


def test_bad_spec_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="group around the time"):
        StockSpec.model_validate({"as_of": {"name": "STOCK_\\d+"}})
    with pytest.raises(ValueError, match="field and equals go together"):
        StockSpec.model_validate({"safety": [{"field": "category", "qty": 1}]})


# -- end to end: files, the CLI, the loopback WooCommerce ----------------------

SHOP = partial(WooServer, key="ck_s", secret="cs_s")


@pytest.fixture
def env(shop, cli_env):
    return cli_env | {"WOO_URL": shop.url, "WOO_KEY": "ck_s", "WOO_SECRET": "cs_s"}


def profile(workdir: Path, name: str, role: str, fields: dict, stock: dict) -> Path:
    data = {
        "name": name,
        "source": {"kind": "local", "path": f"../inbox/{name}", "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";", "fields": fields},
        "map": {"key": "sku"},
        "stock": {"inventory": "shared", "role": role, "quantity": "QTY", "sku": "SKU"} | stock,
        "write": [{"format": "woocommerce_api", "url": "${WOO_URL}", "sync": "stock",
                   "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}",
                   "fields": {"sku": "sku", "stock": "stock"},
                   "limits": {"max_backoff": 0.05}}],
        "feedback": {"ack": {"path": f"../feedback/{name}/{{stem}}.ack.csv"}},
        "ledger": "../ledger.db",
    }
    (workdir / "inbox" / name).mkdir(parents=True, exist_ok=True)
    return write_profile(workdir, data, f"{name}.yaml")


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_erp_file_and_store_file_push_what_may_be_sold(workdir, shop, env):
    for sku, qty in (("A", 5), ("B", 2), ("C", 9)):
        shop.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                          "stock_quantity": qty})
    erp = profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}},
                  {"as_of": {"name": r"STOCK_(\d{8}_\d{4})", "timezone": "UTC"},
                   "safety": [{"sku": "C", "qty": 2}]})
    pos = profile(workdir, "pos", "movements", {"QTY": {"type": "integer"}},
                  {"receipt": "RECEIPT", "at": "WHEN"})
    # A web order at 02:05, already in the ledger (the puller's job).
    inv = Inventory(SqliteLedger(workdir / "ledger.db"),
                    StockSpec.model_validate({"inventory": "shared"}))
    inv.record_orders("web:woo", [sale("W1", "A", 1, "02:05")])
    (workdir / "inbox" / "erp" / "STOCK_20261127_0200.csv").write_text(
        "SKU;QTY\nA;5\nB;2\nC;9\nB;0\n", encoding="utf-8")  # B twice: the last wins
    r = cli("run", str(erp), cwd=workdir, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    stock = {k: p["stock_quantity"] for k, p in shop.catalog().items()}
    assert stock == {"A": 4, "B": 0, "C": 7}  # 5 − the 02:05 sale; C less safety 2
    [ack] = read_csv(workdir / "feedback" / "erp" / "STOCK_20261127_0200.ack.csv", ";")
    assert ack["read"] == "4" and int(ack["sent"]) + int(ack["unchanged"]) == 4
    # A store sale at 02:40 arrives as a POS file: online stock drops at once.
    (workdir / "inbox" / "pos" / "POS_1.csv").write_text(
        "RECEIPT;SKU;QTY;WHEN\nR9;C;3;2026-11-27T02:40:00+00:00\n", encoding="utf-8")
    r = cli("run", str(pos), cwd=workdir, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert shop.catalog()["C"]["stock_quantity"] == 4
    # The same POS file delivered again under another name: counted once.
    (workdir / "inbox" / "pos" / "POS_1_copy.csv").write_text(
        "RECEIPT;SKU;QTY;WHEN\nR9;C;3;2026-11-27T02:40:00+00:00\n\n", encoding="utf-8")
    assert cli("run", str(pos), cwd=workdir, env=env).returncode == 0
    assert shop.catalog()["C"]["stock_quantity"] == 4


LAYOUT = {"seq": {"start": 1, "length": 6, "type": "integer"},
          "kind": {"start": 7, "length": 8},
          "order": {"start": 15, "length": 10},
          "line": {"start": 25, "length": 4},
          "sku": {"start": 29, "length": 12},
          "qty": {"start": 41, "length": 6, "type": "integer"},
          "date": {"start": 47, "length": 8, "type": "date", "format": "YYYYMMDD"}}


def test_movement_files_parse_back_to_the_movements_and_acks_close_them(workdir, shop, env):
    from helpers import read_all

    from filebridge.readers.fixed import FixedOptions, FixedReader

    erp = profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}}, {
        "erp_knows": "acknowledged", "overdue": "0s", "orders": False,
        "feedback": {"path": "../outbox/erp/MOV{seq:06d}.txt", "format": "fixed",
                     "fields": LAYOUT, "encoding": "cp1252"}})
    acks = write_profile(workdir, {
        "name": "erp-acks", "source": {"kind": "local", "path": "../inbox/acks",
                                       "pattern": ["*.csv"], "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";", "fields": {"SEQ": {"type": "integer"}}},
        "stock": {"inventory": "shared", "role": "acks", "ack": "SEQ"},
        "write": [], "ledger": "../ledger.db"}, "acks.yaml")
    (workdir / "inbox" / "acks").mkdir()
    inv = Inventory(SqliteLedger(workdir / "ledger.db"),
                    StockSpec.model_validate({"inventory": "shared"}))
    inv.record_orders("web:woo", [sale("W1", "A-1", 2, "02:05"),
                                  sale("W2", "Bè-2", 1, "02:07")])
    inv.record_orders("web:woo", [sale("W1", "A-1", 0, "02:05", changed="02:30")])
    store(inv, {"R1": [("A-1", None, 1)]}, at="02:10")  # not for the ERP

    r = cli("feedback", str(erp), "--no-pull", cwd=workdir, env=env)
    assert r.returncode == 1, r.stdout + r.stderr  # overdue 0s: not acknowledged yet
    assert "not acknowledged by the ERP" in r.stderr
    out = workdir / "outbox" / "erp" / "MOV000001.txt"
    reader = FixedReader(FixedOptions.model_validate(
        {"format": "fixed", "encoding": "cp1252", "fields": LAYOUT}))
    rows, _, report, _ = read_all(reader, out)
    recorded = [m for m in inv.movements() if m.source.startswith("web:")]
    assert report.tally.rejected == 0
    assert [(r["seq"], r["kind"].strip(), r["order"].strip(), r["sku"].strip(), r["qty"])
            for r in rows] == [(1, m.kind, m.order, m.sku, m.qty) for m in recorded]
    assert [r["qty"] for r in rows] == [-2, -1, 2]  # sale, sale, the cancellation

    r = cli("feedback", str(erp), "--no-pull", cwd=workdir, env=env)
    assert "movements file" not in r.stdout  # nothing new: no new file
    inv.record_orders("web:woo", [sale("W3", "A-1", 1, "03:00")])
    r = cli("feedback", str(erp), "--no-pull", cwd=workdir, env=env)
    assert (workdir / "outbox" / "erp" / "MOV000002.txt").exists()

    (workdir / "inbox" / "acks" / "ACK_1.csv").write_text("SEQ\n1\n2\n", encoding="utf-8")
    r = cli("run", str(acks), cwd=workdir, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert all(m.acked is not None for m in inv.movements() if m.source.startswith("web:"))
    r = cli("feedback", str(erp), "--no-pull", cwd=workdir, env=env)
    assert r.returncode == 0 and "not acknowledged" not in r.stderr
    st = cli("status", "--profile", str(erp), cwd=workdir, env=env)
    assert "inventory shared:" in st.stdout and "acknowledged=4" in st.stdout, st.stdout
    assert "awaiting_ack=0" in st.stdout and "store=1" in st.stdout


def test_reconcile_reports_drift_and_corrects_the_shop(workdir, shop, env):
    ids = {sku: shop.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                                  "stock_quantity": 0})["id"] for sku in ("A", "B")}
    erp = profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}},
                  {"as_of": {"name": r"STOCK_(\d{8}_\d{4})", "timezone": "UTC"},
                   "orders": False})
    (workdir / "inbox" / "erp" / "STOCK_20261127_0200.csv").write_text(
        "SKU;QTY\nA;5\nB;2\n", encoding="utf-8")
    assert cli("run", str(erp), cwd=workdir, env=env).returncode == 0
    r = cli("reconcile", str(erp), cwd=workdir, env=env)
    assert r.returncode == 0 and "0 drifting" in r.stdout, r.stdout + r.stderr
    shop.shop.update(ids["B"], {"stock_quantity": 9})  # someone edits the shop by hand
    r = cli("reconcile", str(erp), cwd=workdir, env=env)
    assert r.returncode == 1 and "1 drifting" in r.stdout
    assert "  B  2  2  2  9  +7" in r.stdout
    r = cli("reconcile", str(erp), "--correct", cwd=workdir, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert shop.catalog()["B"]["stock_quantity"] == 2
    assert "0 drifting" in cli("reconcile", str(erp), cwd=workdir, env=env).stdout


def test_a_store_sale_lowers_online_stock_within_one_watch_cycle(workdir, shop, env):
    import signal

    from helpers import wait_for

    shop.shop.create({"sku": "C", "name": "C", "manage_stock": True, "stock_quantity": 0})
    erp = profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}},
                  {"as_of": {"name": r"STOCK_(\d{8}_\d{4})", "timezone": "UTC"},
                   "orders": False})
    pos = profile(workdir, "pos", "movements", {"QTY": {"type": "integer"}},
                  {"receipt": "RECEIPT", "at": "WHEN"})
    p = subprocess.Popen([sys.executable, "-m", "filebridge", "watch", str(erp), str(pos)],
                         cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        (workdir / "inbox" / "erp" / "STOCK_20261127_0200.csv").write_text(
            "SKU;QTY\nC;9\n", encoding="utf-8")
        wait_for(lambda: shop.catalog()["C"]["stock_quantity"] == 9, timeout=60,
                 what="the ERP figure online")
        (workdir / "inbox" / "pos" / "POS_1.csv").write_text(
            "RECEIPT;SKU;QTY;WHEN\nR1;C;2;2026-11-27T02:40:00+00:00\n", encoding="utf-8")
        wait_for(lambda: shop.catalog()["C"]["stock_quantity"] == 7, timeout=30,
                 what="the store sale online")
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err


def test_a_cancelled_web_order_returns_stock_on_both_sides(workdir, shop, env):
    shop.shop.create({"sku": "A", "name": "A", "manage_stock": True, "stock_quantity": 0})
    erp = profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}},
                  {"as_of": {"name": r"STOCK_(\d{8}_\d{4})", "timezone": "UTC"},
                   "orders": False})
    orders = profile(workdir, "orders", "orders", {"QTY": {"type": "integer"}}, {
        "order": "ORDER", "status": "STATUS", "at": "PLACED", "feedback": {
            "path": "../outbox/erp/MOV{seq:04d}.csv", "columns": ["seq", "kind", "order",
                                                                 "sku", "qty"]}})
    (workdir / "inbox" / "erp" / "STOCK_20261127_0200.csv").write_text("SKU;QTY\nA;5\n")
    assert cli("run", str(erp), cwd=workdir, env=env).returncode == 0
    head = "ORDER;SKU;QTY;STATUS;PLACED\n"
    placed = "W1;A;2;processing;2026-11-27T02:05:00+00:00\n"
    (workdir / "inbox" / "orders" / "O_1.csv").write_text(head + placed)
    assert cli("run", str(orders), cwd=workdir, env=env).returncode == 0
    assert shop.catalog()["A"]["stock_quantity"] == 3
    (workdir / "inbox" / "orders" / "O_1_again.csv").write_text(head + placed + "\n")
    assert cli("run", str(orders), cwd=workdir, env=env).returncode == 0
    assert not (workdir / "outbox" / "erp" / "MOV0002.csv").exists()  # nothing new
    (workdir / "inbox" / "orders" / "O_2.csv").write_text(
        head + "W1;A;2;cancelled;2026-11-27T02:05:00+00:00\n")
    assert cli("run", str(orders), cwd=workdir, env=env).returncode == 0
    assert shop.catalog()["A"]["stock_quantity"] == 5  # the shop side
    first = read_csv(workdir / "outbox" / "erp" / "MOV0001.csv", ";")
    second = read_csv(workdir / "outbox" / "erp" / "MOV0002.csv", ";")
    assert [(r["kind"], r["order"], r["qty"]) for r in first] == [("sale", "W1", "-2")]
    assert [(r["kind"], r["order"], r["qty"]) for r in second] == [("cancel", "W1", "2")]


def test_race_with_the_shop_pulled_for_real_and_orders_on_a_timetable(workdir, shop, env):
    """02:00 export, 02:05 web order in the shop, 02:30 file: the puller reads the order
    before the push, so the shop never shows the sold piece again. Then, in watch, the
    timetable pulls a new order and writes the ERP's movement file by itself."""
    import signal

    from helpers import wait_for

    shop.shop.create({"sku": "A", "name": "A", "manage_stock": True, "stock_quantity": 5})
    shop.add_order([("A", 1)], created=t("02:05"), modified=t("02:05"))
    erp = profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}}, {
        "as_of": {"name": r"STOCK_(\d{8}_\d{4})", "timezone": "UTC"},
        "schedule": {"orders": {"every": "1s"}},
        "feedback": {"path": "../outbox/erp/MOV{seq:04d}.csv"}})
    (workdir / "inbox" / "erp" / "STOCK_20261127_0200.csv").write_text("SKU;QTY\nA;5\n")
    r = cli("run", str(erp), cwd=workdir, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert shop.catalog()["A"]["stock_quantity"] == 4  # not 5: the 02:05 sale holds
    p = subprocess.Popen([sys.executable, "-m", "filebridge", "watch", str(erp)],
                         cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        movs = workdir / "outbox" / "erp"
        wait_for(lambda: (movs / "MOV0001.csv").exists(), timeout=30, what="file 1")
        shop.add_order([("A", 2)], created=t("03:10"), modified=t("03:10"))
        wait_for(lambda: (movs / "MOV0002.csv").exists(), timeout=30, what="file 2")
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    rows = read_csv(movs / "MOV0001.csv", ";") + read_csv(movs / "MOV0002.csv", ";")
    assert [(r["seq"], r["kind"], r["qty"]) for r in rows] == [("1", "sale", "-1"),
                                                               ("2", "sale", "-2")]


def test_each_shop_location_gets_its_own_warehouses_figure(workdir, cli_env):
    from shops.shopify import TOKEN, ShopifyServer

    with ShopifyServer(locations=("Warehouse", "High Street")) as shop:
        env = cli_env | {"SHOP_URL": shop.url, "SHOP_TOKEN": TOKEN}
        sink = {"format": "shopify_api", "url": "${SHOP_URL}", "token": "${SHOP_TOKEN}",
                "limits": {"max_backoff": 0.05}}
        catalog = write_profile(workdir, {
            "name": "catalog", "source": {"kind": "local", "path": "../inbox/catalog",
                                          "pattern": ["*.csv"], "ready": {"stable_for": "0s"}},
            "read": {"format": "csv", "delimiter": ";"},
            "map": {"key": "sku", "fields": {"sku": {"from": "SKU"}, "title": {"from": "T"}}},
            "write": [sink | {"location": "Warehouse"}], "ledger": "../ledger.db"},
            "catalog.yaml")
        (workdir / "inbox" / "catalog").mkdir(parents=True)
        (workdir / "inbox" / "catalog" / "C.csv").write_text("SKU;T\nA;Shirt\nB;Bag\n")
        r = cli("run", str(catalog), cwd=workdir, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        for sku in ("A", "B"):
            shop.set_stock(sku, 0, "High Street")  # stocked at the store too
        erp = profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}}, {
            "location": "WH", "as_of": {"name": r"STOCK_(\d{8}_\d{4})", "timezone": "UTC"},
            "web": ["MAG", "NEG1"], "locations": {"Warehouse": ["MAG"],
                                                  "High Street": ["NEG1"]}})
        data = yaml_load(erp)
        data["write"] = [sink | {"sync": "stock", "location": "Warehouse"},
                         sink | {"sync": "stock", "location": "High Street"}]
        write_profile(workdir, data, "erp.yaml")
        (workdir / "inbox" / "erp" / "STOCK_20261127_0200.csv").write_text(
            "SKU;WH;QTY\nA;MAG;5\nA;NEG1;2\nA;OUTLET;9\nB;MAG;1\n")
        r = cli("run", str(erp), cwd=workdir, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert [(shop.stock(s, "Warehouse"), shop.stock(s, "High Street")) for s in "AB"] == [
            (5, 2), (1, 0)]


def yaml_load(path: Path) -> dict:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(path.read_text())


def test_bad_rows_in_stock_files_are_rejected_with_line_and_field(workdir, shop, env):
    shop.shop.create({"sku": "C", "name": "C", "manage_stock": True, "stock_quantity": 0})
    erp = profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}},
                  {"as_of": {"name": r"STOCK_(\d{8}_\d{4})", "timezone": "UTC"},
                   "orders": False})
    pos = profile(workdir, "pos", "movements", {"QTY": {"type": "integer"}},
                  {"receipt": "RECEIPT", "at": "WHEN"})
    for name in ("erp", "pos"):
        data = yaml_load(workdir / "profiles" / f"{name}.yaml")
        data["feedback"]["rejects"] = {"path": f"../feedback/{name}/{{stem}}.rejects.csv"}
        write_profile(workdir, data, f"{name}.yaml")
    (workdir / "inbox" / "erp" / "STOCK_20261127_0200.csv").write_text(
        "SKU;QTY\nC;9\n;4\n")
    r = cli("run", str(erp), cwd=workdir, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    [rej] = read_csv(workdir / "feedback" / "erp" / "STOCK_20261127_0200.rejects.csv", ";")
    assert (rej["line"], rej["field"]) == ("3", "SKU")
    (workdir / "inbox" / "pos" / "POS_1.csv").write_text(
        "RECEIPT;SKU;QTY;WHEN\nR1;C;2;yesterday\nR2;C;1;2026-11-27T02:40:00+00:00\n")
    r = cli("run", str(pos), cwd=workdir, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    [rej] = read_csv(workdir / "feedback" / "pos" / "POS_1.rejects.csv", ";")
    assert (rej["line"], rej["field"]) == ("2", "WHEN") and "yesterday" in rej["reason"]
    [ack] = read_csv(workdir / "feedback" / "pos" / "POS_1.ack.csv", ";")
    assert (ack["read"], ack["rejected"], ack["sent"]) == ("2", "1", "1")
    assert shop.catalog()["C"]["stock_quantity"] == 8  # the good row counted
