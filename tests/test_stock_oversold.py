"""Sold beyond the stock: the ERP says 1, the web sold 3 after the export. The shop
gets 0 and the two units that do not exist are reported as oversold in the file's
ack, the log, ``filebridge status``, ``filebridge reconcile`` and the ERP's
movement file; worked out from the ledger each time, so a new export that covers
them clears them. With the CLI in subprocesses, real files, fixed times and the
loopback WooCommerce shop."""

from __future__ import annotations

from helpers import read_csv
from test_stock import SHOP, cli, env, profile, t  # noqa: F401  (SHOP: the shop fixture's server; env)


def test_an_oversell_is_reported_everywhere_and_cleared_by_a_covering_export(
        workdir, shop, env):  # noqa: F811
    for sku, qty in (("X-1", 1), ("X-2", 4)):
        shop.shop.create({"sku": sku, "name": sku, "manage_stock": True, "stock_quantity": qty})
    shop.add_order([("X-1", 3)], created=t("02:05"), modified=t("02:05"))
    erp = profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}}, {
        "as_of": {"name": r"STOCK_(\d{8}_\d{4})", "timezone": "UTC"},
        "feedback": {"path": "../outbox/erp/MOV{seq:04d}.csv",
                     "columns": ["seq", "kind", "order", "sku", "qty", "oversold"]}})
    inbox, acks = workdir / "inbox" / "erp", workdir / "feedback" / "erp"
    (inbox / "STOCK_20261127_0200.csv").write_text("SKU;QTY\nX-1;1\nX-2;4\n")
    r = cli("run", str(erp), cwd=workdir, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {s: p["stock_quantity"] for s, p in shop.catalog().items()} == {"X-1": 0, "X-2": 4}
    assert "oversold: 1 SKUs, 2 units sold beyond the stock: X-1 2" in r.stderr, r.stderr
    [ack] = read_csv(acks / "STOCK_20261127_0200.ack.csv", ";")
    assert (ack["oversold"], ack["oversold_skus"]) == ("2", "1")
    n = {k: int(ack[k]) for k in ("read", "sent", "unchanged", "rejected", "skipped", "queued")}
    assert n["read"] == 2 == n["sent"] + n["unchanged"] + n["rejected"] + n["skipped"] + \
        n["queued"]  # oversold is a figure beside the row counts, not one of them
    assert list(ack)[-2:] == ["oversold", "oversold_skus"]  # after the columns ERPs know

    st = cli("status", "--profile", str(erp), cwd=workdir, env=env)
    assert "oversold_skus=1 oversold_units=2" in st.stdout, st.stdout
    assert "  oversold: X-1 2 units" in st.stdout

    r = cli("reconcile", str(erp), cwd=workdir, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "0 drifting, 1 oversold (2 units)" in r.stdout, r.stdout
    assert "  X-1  1  0  0  0  +0  2\n" in r.stdout
    assert "inventory shared: 1 SKUs oversold, 2 units sold beyond the stock: X-1 2" in r.stdout

    r = cli("feedback", str(erp), "--no-pull", cwd=workdir, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = read_csv(workdir / "outbox" / "erp" / "MOV0001.csv", ";")
    assert [(x["kind"], x["sku"], x["qty"], x["oversold"]) for x in rows] == [
        ("sale", "X-1", "-3", "2")]

    # The 04:00 export has the sale and new stock: nothing is oversold any more.
    (inbox / "STOCK_20261127_0400.csv").write_text("SKU;QTY\nX-1;4\nX-2;4\n")
    r = cli("run", str(erp), cwd=workdir, env=env)
    assert r.returncode == 0 and "oversold" not in r.stderr, r.stdout + r.stderr
    [ack] = read_csv(acks / "STOCK_20261127_0400.ack.csv", ";")
    assert (ack["oversold"], ack["oversold_skus"]) == ("0", "0")
    assert shop.catalog()["X-1"]["stock_quantity"] == 4
    st = cli("status", "--profile", str(erp), cwd=workdir, env=env)
    assert "oversold_skus=0 oversold_units=0" in st.stdout and "  oversold:" not in st.stdout
    r = cli("reconcile", str(erp), cwd=workdir, env=env)
    assert r.returncode == 0 and "0 oversold" in r.stdout, r.stdout + r.stderr


def test_a_store_sale_beyond_the_stock_shows_in_the_pos_files_ack(workdir, shop, env):  # noqa: F811
    shop.shop.create({"sku": "X-1", "name": "X-1", "manage_stock": True, "stock_quantity": 0})
    erp = profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}}, {
        "as_of": {"name": r"STOCK_(\d{8}_\d{4})", "timezone": "UTC"}, "orders": False})
    pos = profile(workdir, "pos", "movements", {"QTY": {"type": "integer"}},
                  {"receipt": "RECEIPT", "at": "WHEN"})
    (workdir / "inbox" / "erp" / "STOCK_20261127_0200.csv").write_text("SKU;QTY\nX-1;1\n")
    assert cli("run", str(erp), cwd=workdir, env=env).returncode == 0
    (workdir / "inbox" / "pos" / "POS_1.csv").write_text(
        "RECEIPT;SKU;QTY;WHEN\nR1;X-1;2;2026-11-27T02:40:00+00:00\n")
    r = cli("run", str(pos), cwd=workdir, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    [ack] = read_csv(workdir / "feedback" / "pos" / "POS_1.ack.csv", ";")
    assert (ack["oversold"], ack["oversold_skus"]) == ("1", "1")


def test_a_profile_without_stock_keeps_its_ack_columns(workdir, cli_env):
    from conftest import write_profile

    p = write_profile(workdir, {
        "name": "cat", "source": {"kind": "local", "path": "../inbox", "pattern": ["*.csv"],
                                  "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";"},
        "map": {"key": "sku", "fields": {"sku": {"from": "SKU"}}},
        "write": [{"format": "csv", "path": "../out/{stem}.csv"}],
        "feedback": {"ack": {"path": "../feedback/{stem}.ack.csv"}}})
    (workdir / "inbox" / "C.csv").write_text("SKU\nA\n")
    assert cli("run", str(p), cwd=workdir, env=cli_env).returncode == 0
    header = (workdir / "feedback" / "C.ack.csv").read_text().splitlines()[0]
    assert header == ("file;status;read;sent;unchanged;rejected;skipped;queued;reason;processed;"
                      "warnings")
