"""When a stock file counts as processed already (``once:``): an ERP figures export
is a snapshot, so the same bytes under a new name are a new export to apply; the
same file dropped twice is still done once, and a crash redoes it to the same
outputs. With the CLI in subprocesses, real files, fixed times and the loopback
WooCommerce shop."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from test_stock import SHOP, cli, env, profile, t  # noqa: F401  (SHOP: the shop fixture's server; env)

from filebridge.job import Job
from filebridge.ledger.sqlite import SqliteLedger
from filebridge.profile import load_profile
from filebridge.runner import run_files

FIVE, TEN = "SKU;QTY\nX-1;5\n", "SKU;QTY\nX-1;10\n"


def erp_profile(workdir: Path, **stock: object) -> Path:
    return profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}},
                   {"as_of": {"name": r"DISPO_(\d{8}_\d{4})", "timezone": "UTC"},
                    "orders": False} | stock)


def stock_of(shop, sku: str) -> int:  # noqa: F811
    return shop.catalog()[sku]["stock_quantity"]


def files(workdir: Path) -> list[tuple[str, str]]:
    db = SqliteLedger(workdir / "ledger.db").db
    return db.execute("SELECT name, status FROM files ORDER BY id").fetchall()


def test_an_old_snapshot_sent_as_a_new_export_is_applied_and_a_redrop_is_done_once(
        workdir, shop, env):  # noqa: F811
    shop.shop.create({"sku": "X-1", "name": "X-1", "manage_stock": True, "stock_quantity": 0})
    erp = erp_profile(workdir)
    r = cli("check", str(erp), cwd=workdir, env=env)
    assert "once: name_and_content, the default for stock.role figures" in r.stdout, r.stdout
    inbox = workdir / "inbox" / "erp"
    # 02:00 says 5, 03:00 says 10, 04:00 says 5 again with the very bytes of 02:00.
    for hhmm, body, expect in (("0200", FIVE, 5), ("0300", TEN, 10), ("0400", FIVE, 5)):
        (inbox / f"DISPO_20261127_{hhmm}.csv").write_text(body)
        r = cli("run", str(erp), cwd=workdir, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"DISPO_20261127_{hhmm}.csv: done" in r.stdout, r.stdout
        assert stock_of(shop, "X-1") == expect, hhmm
    # The 04:00 file dropped a second time is the same file: done once.
    (inbox / "DISPO_20261127_0400.csv").write_text(FIVE)
    r = cli("run", str(erp), cwd=workdir, env=env)
    assert r.returncode == 0 and "DISPO_20261127_0400.csv: duplicate" in r.stdout, r.stdout
    assert "same name and content" in r.stdout
    # A late 02:30 export is a new file too, but its older figure never wins.
    (inbox / "DISPO_20261127_0230.csv").write_text("SKU;QTY\nX-1;7\n")
    r = cli("run", str(erp), cwd=workdir, env=env)
    assert r.returncode == 0 and "DISPO_20261127_0230.csv: done" in r.stdout, r.stdout
    assert stock_of(shop, "X-1") == 5
    assert files(workdir) == [("DISPO_20261127_0200.csv", "done"),
                              ("DISPO_20261127_0300.csv", "done"),
                              ("DISPO_20261127_0400.csv", "done"),
                              ("DISPO_20261127_0400.csv", "duplicate"),
                              ("DISPO_20261127_0230.csv", "done")]


def test_once_by_content_when_the_profile_says_so(workdir, shop, env):  # noqa: F811
    """The old rule stays available: ``once: content`` skips the 04:00 bytes."""
    shop.shop.create({"sku": "X-1", "name": "X-1", "manage_stock": True, "stock_quantity": 0})
    erp = erp_profile(workdir)
    data = (erp.read_text() + "once: content\n")
    erp.write_text(data)
    assert "once: content)" in cli("check", str(erp), cwd=workdir, env=env).stdout
    inbox = workdir / "inbox" / "erp"
    for hhmm, body in (("0200", FIVE), ("0300", TEN), ("0400", FIVE)):
        (inbox / f"DISPO_20261127_{hhmm}.csv").write_text(body)
        r = cli("run", str(erp), cwd=workdir, env=env)
    assert "DISPO_20261127_0400.csv: duplicate - same content as DISPO_20261127_0200.csv" \
        in r.stdout, r.stdout
    assert stock_of(shop, "X-1") == 10


def test_a_fixed_name_export_back_to_old_bytes_is_applied(workdir, shop, env):  # noqa: F811
    """An ERP that always writes DISPO.csv (export time: the file's): 5, 10, then 5
    again is the newest snapshot, not a duplicate of the first."""
    shop.shop.create({"sku": "X-1", "name": "X-1", "manage_stock": True, "stock_quantity": 0})
    erp = profile(workdir, "erp", "figures", {"QTY": {"type": "integer"}}, {"orders": False})
    inbox = workdir / "inbox" / "erp"
    for hhmm, body, expect in (("02:00", FIVE, 5), ("03:00", TEN, 10), ("04:00", FIVE, 5)):
        f = inbox / "DISPO.csv"
        f.write_text(body)
        os.utime(f, (t(hhmm), t(hhmm)))
        r = cli("run", str(erp), cwd=workdir, env=env)
        assert r.returncode == 0 and "DISPO.csv: done" in r.stdout, r.stdout + r.stderr
        assert stock_of(shop, "X-1") == expect, hhmm
    f.write_text(FIVE)
    os.utime(f, (t("04:00"), t("04:00")))
    r = cli("run", str(erp), cwd=workdir, env=env)
    assert "DISPO.csv: duplicate" in r.stdout, r.stdout


def test_a_crash_after_the_claim_redoes_the_file_to_the_same_outputs(
        workdir, shop, env, monkeypatch):  # noqa: F811
    shop.shop.create({"sku": "X-1", "name": "X-1", "manage_stock": True, "stock_quantity": 0})
    erp = erp_profile(workdir)
    data = erp.read_text().replace("{stem}.ack.csv", "{stem}.{time}.ack.csv")
    erp.write_text(data)
    inbox, acks = workdir / "inbox" / "erp", workdir / "feedback" / "erp"
    (inbox / "DISPO_20261127_0200.csv").write_text(FIVE)
    (inbox / "DISPO_20261127_0300.csv").write_text(TEN)
    assert cli("run", str(erp), cwd=workdir, env=env).returncode == 0
    assert stock_of(shop, "X-1") == 10
    (inbox / "DISPO_20261127_0400.csv").write_text(FIVE)
    for k in ("WOO_URL", "WOO_KEY", "WOO_SECRET"):
        monkeypatch.setenv(k, env[k])
    job = Job(load_profile(erp))

    def crash(*a: object, **k: object) -> None:
        raise SystemExit("killed")  # a crash once the outputs are out, before the commit

    monkeypatch.setattr(job.ledger, "finish", crash)
    with pytest.raises(SystemExit):
        run_files(job, [])
    job.close()
    [first] = acks.glob("DISPO_20261127_0400.*.ack.csv")
    assert (inbox / "DISPO_20261127_0400.csv").exists()  # not archived: it will be redone
    time.sleep(1.1)  # a new claim would now name its outputs with another {time}
    r = cli("run", str(erp), cwd=workdir, env=env)
    assert r.returncode == 0 and "DISPO_20261127_0400.csv: done" in r.stdout, r.stdout
    assert list(acks.glob("DISPO_20261127_0400.*.ack.csv")) == [first]
    assert stock_of(shop, "X-1") == 5
    assert files(workdir)[-1] == ("DISPO_20261127_0400.csv", "done")  # the claim's own row
    assert len(files(workdir)) == 3
    (inbox / "DISPO_20261127_0400.csv").write_text(FIVE)
    r = cli("run", str(erp), cwd=workdir, env=env)
    assert "DISPO_20261127_0400.csv: duplicate" in r.stdout, r.stdout


@pytest.mark.parametrize(("role", "rule"), [("movements", "content"), ("orders", "content")])
def test_receipts_and_order_files_stay_once_by_content(workdir, env, role, rule):  # noqa: F811
    p = profile(workdir, role, role, {"QTY": {"type": "integer"}}, {"receipt": "RECEIPT"}
                if role == "movements" else {"order": "ORDER"})
    r = cli("check", str(p), cwd=workdir, env=env)
    assert f"once: {rule}, the default for stock.role {role}" in r.stdout, r.stdout + r.stderr
