"""POS receipts as they now stand: a "day so far" file that resends receipts in
another order changes nothing, a corrected receipt replaces the old one (a line it
lost gives its stock back), and a file with rejected rows never gives stock back.
With the CLI in subprocesses, real files, fixed times and the loopback WooCommerce
shop."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import read_csv
from test_stock import SHOP, cli, env, profile, t  # noqa: F401  (SHOP: the shop fixture's server; env)

from filebridge.ledger.sqlite import SqliteLedger
from filebridge.stock.inventory import Inventory
from filebridge.stock.spec import StockSpec

HEAD = "RECEIPT;SKU;QTY;WHEN\n"


def setup(workdir: Path, shop, env, **pos: object) -> tuple[Path, Path]:  # noqa: F811
    """Three SKUs at 5 from the 02:00 export, and a POS profile of the same inventory."""
    for sku in ("X-1", "X-2", "X-3"):
        shop.shop.create({"sku": sku, "name": sku, "manage_stock": True, "stock_quantity": 0})
    erp = profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}}, {
        "as_of": {"name": r"DISPO_(\d{8}_\d{4})", "timezone": "UTC"},
        "feedback": {"path": "../outbox/erp/MOV{seq:04d}.csv",
                     "columns": ["seq", "kind", "order", "sku", "qty"]}})
    (workdir / "inbox" / "erp" / "DISPO_20261127_0200.csv").write_text(
        "SKU;QTY\nX-1;5\nX-2;5\nX-3;5\n")
    r = cli("run", str(erp), cwd=workdir, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    pos_profile = profile(workdir, "pos", "movements", {"QTY": {"type": "integer"}},
                          {"receipt": "RECEIPT", "at": "WHEN"} | pos)
    return erp, pos_profile


def pos_file(workdir: Path, pos: Path, name: str, rows: list[str], at: str,
             env: dict[str, str], head: str = HEAD) -> str:  # noqa: F811
    """Drop a POS file written at ``at`` and run the POS profile on it."""
    f = workdir / "inbox" / "pos" / name
    f.write_text(head + "".join(r + "\n" for r in rows))
    os.utime(f, (t(at), t(at)))
    r = cli("run", str(pos), cwd=workdir, env=env)
    assert f"{name}: done" in r.stdout, r.stdout + r.stderr
    return r.stdout + r.stderr


def stock(shop) -> list[int]:  # noqa: F811
    return [shop.catalog()[s]["stock_quantity"] for s in ("X-1", "X-2", "X-3")]


def store_moves(workdir: Path) -> list[tuple[str, str, int]]:
    inv = Inventory(SqliteLedger(workdir / "ledger.db"),
                    StockSpec.model_validate({"inventory": "shared", "role": "movements"}))
    return [(m.kind, m.sku, m.qty) for m in inv.movements() if m.source.startswith("pos:")]


def when(hhmm: str) -> str:
    return f"2026-11-27T{hhmm}:00+00:00"


def test_a_resent_reordered_receipt_changes_nothing_and_a_corrected_one_replaces_it(
        workdir, shop, env):  # noqa: F811
    erp, pos = setup(workdir, shop, env)
    assert stock(shop) == [5, 5, 5]
    pos_file(workdir, pos, "POS_0245.csv", [f"R1;X-1;1;{when('02:40')}",
                                            f"R1;X-2;1;{when('02:40')}"], "02:45", env)
    assert stock(shop) == [4, 4, 5]
    # The day so far: R3 first, R1 after it, its rows the other way round.
    pos_file(workdir, pos, "POS_0315.csv", [f"R3;X-3;1;{when('03:10')}",
                                            f"R1;X-2;1;{when('02:40')}",
                                            f"R1;X-1;1;{when('02:40')}"], "03:15", env)
    assert stock(shop) == [4, 4, 4]
    # R1 corrected: two X-1 (on two rows of the receipt), and X-2 taken off it.
    pos_file(workdir, pos, "POS_0345.csv", [f"R3;X-3;1;{when('03:10')}",
                                            f"R1;X-1;1;{when('02:40')}",
                                            f"R1;X-1;1;{when('02:40')}"], "03:45", env)
    assert stock(shop) == [3, 5, 4]
    [ack] = read_csv(workdir / "feedback" / "pos" / "POS_0345.ack.csv", ";")
    counts = {k: int(ack[k]) for k in ("read", "sent", "unchanged", "rejected", "queued")}
    assert counts["read"] == 3 and counts["rejected"] == 0
    assert counts["sent"] + counts["unchanged"] == 3  # X-2's push stands for no row
    # A return on a new receipt gives one X-3 back.
    pos_file(workdir, pos, "POS_0415.csv", [f"R3;X-3;1;{when('03:10')}",
                                            f"R1;X-1;2;{when('02:40')}",
                                            f"R4;X-3;-1;{when('04:10')}"], "04:15", env)
    assert stock(shop) == [3, 5, 5]
    assert store_moves(workdir) == [
        ("store_sale", "X-1", -1), ("store_sale", "X-2", -1), ("store_sale", "X-3", -1),
        ("store_correction", "X-1", -1), ("store_correction", "X-2", 1),
        ("store_return", "X-3", 1)]
    # The ERP's movement file carries the web's movements only: the store system
    # tells the ERP its own receipts, corrections included.
    shop.add_order([("X-2", 1)], created=t("04:20"), modified=t("04:20"))
    r = cli("feedback", str(erp), cwd=workdir, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = read_csv(workdir / "outbox" / "erp" / "MOV0001.csv", ";")
    assert [(x["kind"], x["sku"], x["qty"]) for x in rows] == [("sale", "X-2", "-1")]


def test_receipts_keyed_by_their_line_field(workdir, shop, env):  # noqa: F811
    erp, pos = setup(workdir, shop, env, receipt_line="LINE")
    head = "RECEIPT;LINE;SKU;QTY;WHEN\n"
    pos_file(workdir, pos, "POS_0245.csv", [f"R1;1;X-1;1;{when('02:40')}",
                                            f"R1;2;X-2;1;{when('02:40')}",
                                            f"R2;1;X-1;1;{when('02:41')}",
                                            f"R2;2;X-1;1;{when('02:41')}"], "02:45", env, head)
    assert stock(shop) == [2, 4, 5]  # R2: two lines of X-1, two units
    pos_file(workdir, pos, "POS_0315.csv", [f"R2;2;X-1;1;{when('02:41')}",
                                            f"R1;2;X-2;1;{when('02:40')}",
                                            f"R2;1;X-1;1;{when('02:41')}",
                                            f"R1;1;X-1;1;{when('02:40')}"], "03:15", env, head)
    assert stock(shop) == [2, 4, 5]
    # R1's line 2 corrected from X-2 to X-3: X-2 comes back, X-3 goes.
    pos_file(workdir, pos, "POS_0345.csv", [f"R1;1;X-1;1;{when('02:40')}",
                                            f"R1;2;X-3;1;{when('02:40')}"], "03:45", env, head)
    assert stock(shop) == [2, 5, 4]
    r = cli("check", str(pos), cwd=workdir, env=env)
    assert r.returncode == 0, r.stderr


def test_a_file_with_rejected_rows_gives_no_stock_back(workdir, shop, env):  # noqa: F811
    """A row that could not be read may be the receipt line that seems gone."""
    erp, pos = setup(workdir, shop, env)
    pos_file(workdir, pos, "POS_0245.csv", [f"R1;X-1;1;{when('02:40')}",
                                            f"R1;X-2;2;{when('02:40')}"], "02:45", env)
    assert stock(shop) == [4, 3, 5]
    out = pos_file(workdir, pos, "POS_0315.csv", [f"R1;X-1;1;{when('02:40')}",
                                                  f"R1;X-2;1;{when('02:40')}",
                                                  "R1;X-2;1;yesterday",
                                                  f"R5;X-3;1;{when('03:10')}"], "03:15", env)
    assert stock(shop) == [4, 3, 4]  # the new sale counts; X-2 is not given back
    assert "kept as recorded" in out
    [ack] = read_csv(workdir / "feedback" / "pos" / "POS_0315.ack.csv", ";")
    assert (ack["read"], ack["rejected"]) == ("4", "1")
    # Once a clean file shows R1 with one X-2, it is corrected.
    pos_file(workdir, pos, "POS_0345.csv", [f"R1;X-1;1;{when('02:40')}",
                                            f"R1;X-2;1;{when('02:40')}",
                                            f"R5;X-3;1;{when('03:10')}"], "03:45", env)
    assert stock(shop) == [4, 4, 4]
