"""Delta sync to a shop API end to end: real files, the real CLI in a subprocess,
a real SQLite ledger and the loopback WooCommerce server holding the catalog.

Shown: a second run of an unchanged export sends nothing; a 1% change sends
exactly those rows; a shop answering 429 and 5xx for a while ends in the same
state as a healthy one; a SIGKILL while sending and a restart apply every change
once; the breaker holds a run that would zero most of the catalog until
``approve``; ``plan`` sends nothing; the shop's own refusals reach the ERP's
rejects file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from conftest import write_profile
from helpers import read_csv, wait_for
from shops.woocommerce import WooServer

N = 200


SHOP = partial(WooServer, key="ck_sync", secret="cs_sync")


@pytest.fixture
def env(shop, cli_env):
    return cli_env | {"WOO_URL": shop.url, "WOO_KEY": "ck_sync", "WOO_SECRET": "cs_sync"}


def profile(workdir: Path, **sink) -> Path:
    data = {
        "name": "stock",
        "source": {"kind": "local", "path": "../inbox", "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}, "archive": "../archive",
                   "errors": "../errors"},
        "read": {"format": "csv", "delimiter": ";",
                 "fields": {"QTY": {"type": "integer"}, "PRICE": {"type": "decimal",
                                                                 "scale": 2}}},
        "map": {"key": "sku", "fields": {
            "sku": {"from": "SKU", "required": True}, "title": {"from": "NAME"},
            "price": {"from": "PRICE"}, "stock": {"from": "QTY"}}},
        "write": [{"format": "woocommerce_api", "url": "${WOO_URL}",
                   "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}",
                   "limits": {"max_backoff": 0.05, "retries": 20}} | sink],
        "feedback": {"ack": {"path": "../feedback/{stem}.ack.csv"},
                     "rejects": {"path": "../feedback/{stem}.rejects.csv"}},
    }
    return write_profile(workdir, data)


def rows(n: int = N, changed: dict[int, int] | None = None) -> dict[str, tuple[str, int]]:
    out = {}
    for i in range(n):
        qty = (changed or {}).get(i, i % 17)
        out[f"SKU{i:05}"] = (f"{10 + i % 50}.90", qty)
    return out


def drop(workdir: Path, name: str, data: dict[str, tuple[str, int]], extra: str = "") -> None:
    lines = ["SKU;NAME;PRICE;QTY"] + [f"{k};Article {k};{p};{q}" for k, (p, q) in data.items()]
    (workdir / "inbox" / name).write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


def shop_state(shop: WooServer) -> dict[str, tuple[str, int, str]]:
    return {sku: (p["regular_price"], p["stock_quantity"], p["status"])
            for sku, p in shop.catalog().items()}


def expected(data: dict[str, tuple[str, int]]) -> dict[str, tuple[str, int, str]]:
    return {k: (p, q, "publish") for k, (p, q) in data.items()}


def ack(workdir: Path, stem: str) -> dict[str, str]:
    [row] = read_csv(workdir / "feedback" / f"{stem}.ack.csv", ";")
    assert int(row["read"]) == sum(int(row[k]) for k in ("sent", "unchanged", "rejected",
                                                         "skipped", "queued"))
    return row


def test_unchanged_export_sends_nothing_and_one_percent_sends_exactly_those(workdir, shop, env):
    prof = profile(workdir)
    drop(workdir, "S_1.csv", rows())
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 0, r.stderr
    assert shop_state(shop) == expected(rows())
    assert ack(workdir, "S_1")["sent"] == str(N)

    before = shop.requests
    drop(workdir, "S_2.csv", rows(), extra="\n")  # same rows, another file
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 0, r.stderr
    assert shop.requests == before  # not one call
    assert (ack(workdir, "S_2")["sent"], ack(workdir, "S_2")["unchanged"]) == ("0", str(N))

    applied = dict(shop.applied)
    change = {3: 99, 150: 0}  # 1% of the rows
    drop(workdir, "S_3.csv", rows(changed=change))
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 0, r.stderr
    touched = {k for k, v in shop.applied.items() if v != applied.get(k)}
    assert touched == {"SKU00003", "SKU00150"}
    assert shop_state(shop) == expected(rows(changed=change))
    assert ack(workdir, "S_3")["sent"] == "2"
    assert sum(1 for p in shop.catalog()) == N and max(shop.created.values()) == 1


def test_a_shop_failing_for_a_while_ends_like_a_healthy_one(workdir, shop, env):
    prof = profile(workdir, limits={"max_backoff": 0.05, "retries": 30, "batch_size": 20})
    drop(workdir, "S_1.csv", rows())
    shop.faults.fail(6, 503)
    shop.faults.fail(4, 429, retry_after=0.01)
    shop.faults.drop(3)
    shop.faults.drop(2, after=True)  # applied, but the answer is lost
    shop.faults.fail(3, 500)
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 0, r.stderr
    assert shop_state(shop) == expected(rows())
    assert max(shop.created.values()) == 1  # a lost answer did not create twice


def test_a_shop_down_keeps_changes_queued_for_the_next_run(workdir, shop, env):
    prof = profile(workdir, limits={"max_backoff": 0.01, "retries": 2})
    drop(workdir, "S_1.csv", rows())
    shop.faults.fail(10_000, 503)
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 6, r.stdout + r.stderr  # a server could not be used
    a = ack(workdir, "S_1")
    assert int(a["queued"]) > 0 and int(a["sent"]) + int(a["queued"]) == N
    shop.faults.queue.clear()
    r = cli("run", str(prof), cwd=workdir, env=env)  # no new file: the outbox goes out
    assert r.returncode == 0, r.stderr
    assert shop_state(shop) == expected(rows())
    st = cli("status", "--profile", str(prof), cwd=workdir, env=env)
    assert f"sent={N}" in st.stdout


def test_sigkill_while_sending_then_restart_applies_every_change_once(workdir, shop, env):
    prof = profile(workdir, limits={"batch_size": 10, "parallel": 1, "max_backoff": 0.05})
    drop(workdir, "S_1.csv", rows())
    shop.faults.slow(1000, 0.05)  # 20 batches, about a second
    p = subprocess.Popen([sys.executable, "-m", "filebridge", "run", str(prof)], cwd=workdir,
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(lambda: len(shop.catalog()) >= 60, timeout=60, what="some batches sent")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    got = len(shop.catalog())
    assert 0 < got < N  # killed half-way through sending
    shop.faults.queue.clear()
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 0, r.stderr
    assert shop_state(shop) == expected(rows())
    assert max(shop.created.values()) == 1  # the batch in flight was not created twice
    # WooCommerce has no idempotency key: a batch the shop applied while the process
    # was being killed never reached the ledger, so the restart sends it again (the
    # SKU lookup finds the products, so as an update of the same absolute figures:
    # the shop ends right, as asserted above). The guarantee: every change applied at
    # least once, and only the one batch in flight (batch_size 10, parallel 1) twice.
    assert set(shop.applied) == set(rows()) and min(shop.applied.values()) >= 1
    twice = {k: n for k, n in shop.applied.items() if n != 1}
    assert len(twice) <= 10 and all(n == 2 for n in twice.values()), twice
    a = ack(workdir, "S_1")
    assert (a["status"], a["sent"]) == ("done", str(N))


def test_breaker_holds_a_run_that_would_zero_most_of_the_catalog(workdir, shop, env):
    prof = profile(workdir, missing="zero")
    drop(workdir, "S_1.csv", rows())
    assert cli("run", str(prof), cwd=workdir, env=env).returncode == 0
    small = dict(list(rows().items())[:20])  # a truncated export: 90% missing
    drop(workdir, "S_2.csv", small)
    plan = cli("plan", str(prof), str(workdir / "inbox" / "S_2.csv"), cwd=workdir, env=env)
    assert plan.returncode == 7 and "zero 180" in plan.stdout and "HELD" in plan.stdout
    before = shop.requests
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 7, r.stdout + r.stderr  # held
    assert shop.requests == before and shop_state(shop) == expected(rows())
    a = ack(workdir, "S_2")
    assert a["status"] == "held" and "180 of the 200" in a["reason"]
    st = cli("status", "--profile", str(prof), cwd=workdir, env=env)
    run_id = int(st.stdout.split("held: run #")[1].split()[0])
    r = cli("approve", str(run_id), "--profile", str(prof), cwd=workdir, env=env)
    assert r.returncode == 0, r.stderr
    state = shop_state(shop)
    assert sum(1 for _, q, _ in state.values() if q == 0) == 180 + sum(
        1 for _, q in small.values() if q == 0)
    # Zeroed once: the next full file with the same rows does not zero them again.
    before = shop.requests
    drop(workdir, "S_3.csv", small, extra="\n")
    assert cli("run", str(prof), cwd=workdir, env=env).returncode == 0
    assert shop.requests == before


def test_shop_refusals_reach_the_rejects_file_and_plan_sends_nothing(workdir, shop, env):
    prof = profile(workdir)
    data = rows(20)
    data["SKU00005"] = ("12.90", -3)  # the test shop refuses a negative stock
    drop(workdir, "S_1.csv", data)
    plan = cli("plan", str(prof), str(workdir / "inbox" / "S_1.csv"), cwd=workdir, env=env)
    assert plan.returncode == 0 and "create 20" in plan.stdout and shop.requests == 0
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 1, r.stdout + r.stderr  # rows rejected
    a = ack(workdir, "S_1")
    assert (a["sent"], a["rejected"]) == ("19", "1")
    [rej] = read_csv(workdir / "feedback" / "S_1.rejects.csv", ";")
    assert rej["line"] == "7" and "SKU00005" in rej["reason"]
    assert "rest_invalid_param" in rej["reason"] or "stock" in rej["reason"]
    assert "SKU00005" not in shop.catalog() and len(shop.catalog()) == 19
    time.sleep(0)


def test_magento_first_load_goes_through_bulk_then_delta_sends_one(workdir, cli_env):
    from shops.magento import TOKEN, MagentoServer

    with MagentoServer() as shop:
        env = cli_env | {"MAGENTO_URL": shop.url, "MAGENTO_TOKEN": TOKEN}
        data = {
            "name": "mage", "source": {"kind": "local", "path": "../inbox",
                                       "pattern": ["*.csv"], "ready": {"stable_for": "0s"}},
            "read": {"format": "csv", "delimiter": ";",
                     "fields": {"QTY": {"type": "integer"},
                                "PRICE": {"type": "decimal", "scale": 2}}},
            "map": {"key": "sku", "fields": {
                "sku": {"from": "SKU"}, "title": {"from": "NAME"}, "price": {"from": "PRICE"},
                "stock": {"from": "QTY"}}},
            "write": [{"format": "magento_api", "url": "${MAGENTO_URL}",
                       "token": "${MAGENTO_TOKEN}", "bulk_threshold": 100,
                       "limits": {"max_backoff": 0.05}}],
            "feedback": {"ack": {"path": "../feedback/{stem}.ack.csv"}},
        }
        prof = write_profile(workdir, data)
        drop(workdir, "M_1.csv", rows())
        r = cli("run", str(prof), cwd=workdir, env=env)
        assert r.returncode == 0, r.stderr
        assert shop.bulks, "the first load used the bulk API"
        cat = shop.catalog()
        assert {k: (str(v["price"]), v["stock"]["default"][0]) for k, v in cat.items()} == {
            k: (p, q) for k, (p, q) in rows().items()}
        bulks, before = len(shop.bulks), dict(shop.applied)
        drop(workdir, "M_2.csv", rows(changed={7: 70}))
        r = cli("run", str(prof), cwd=workdir, env=env)
        assert r.returncode == 0, r.stderr
        assert len(shop.bulks) == bulks  # one change: the synchronous path
        assert {k for k, v in shop.applied.items() if v != before.get(k)} == {"SKU00007"}
        assert shop.catalog()["SKU00007"]["stock"]["default"][0] == 70


def test_shopify_variants_keep_their_siblings_when_one_changes(workdir, cli_env):
    """productSet replaces the variant list: a run that changes one size must still
    send the product's other sizes (from the ledger), or the shop would delete them."""
    from shops.shopify import TOKEN, ShopifyServer

    with ShopifyServer() as shop:
        env = cli_env | {"SHOP_URL": shop.url, "SHOP_TOKEN": TOKEN}
        data = {
            "name": "fashion", "source": {"kind": "local", "path": "../inbox",
                                          "pattern": ["*.csv"], "ready": {"stable_for": "0s"}},
            "read": {"format": "csv", "delimiter": ";",
                     "fields": {"QTY": {"type": "integer"},
                                "PRICE": {"type": "decimal", "scale": 2}}},
            "map": {"key": "sku", "fields": {
                "sku": {"format": "{ART}-{SIZE}"}, "article": {"from": "ART"},
                "title": {"from": "NAME"}, "size": {"from": "SIZE"},
                "price": {"from": "PRICE"}, "stock": {"from": "QTY"}},
                "product": {"key": "article", "options": [{"field": "size", "name": "Size"}]}},
            "write": [{"format": "shopify_api", "url": "${SHOP_URL}", "token": "${SHOP_TOKEN}",
                       "bulk_threshold": 10, "limits": {"max_backoff": 0.05}}],
            "feedback": {"ack": {"path": "../feedback/{stem}.ack.csv"}},
        }
        prof = write_profile(workdir, data)

        def export(name: str, price_of_m: str) -> None:
            lines = ["ART;NAME;SIZE;PRICE;QTY"] + [
                f"{a};Shirt {a};{s};{price_of_m if (a, s) == ('A2', 'M') else '19.90'};{n}"
                for a in ("A1", "A2", "A3") for n, s in enumerate(("S", "M", "L", "XL"))]
            (workdir / "inbox" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")

        export("F_1.csv", "19.90")
        r = cli("run", str(prof), cwd=workdir, env=env)
        assert r.returncode == 0, r.stderr
        assert shop.bulk, "12 changes >= bulk_threshold 10: the first load went through bulk"
        cat = shop.catalog()
        assert sorted(cat) == ["a1", "a2", "a3"]
        assert all(sorted(p["variants"]) == sorted(f"{h.upper()}-{s}" for s in
                                                   ("S", "M", "L", "XL"))
                   for h, p in cat.items())
        export("F_2.csv", "24.90")
        r = cli("run", str(prof), cwd=workdir, env=env)
        assert r.returncode == 0, r.stderr
        assert ack(workdir, "F_2")["sent"] == "1"
        a2 = shop.catalog()["a2"]["variants"]
        assert len(a2) == 4 and a2["A2-M"]["price"] == "24.90"
        assert a2["A2-XL"]["inventory"] == {"Warehouse": 3}
        assert max(shop.created.values()) == 1


def test_a_bad_row_in_a_full_feed_does_not_zero_its_product(workdir, shop, env):
    prof = profile(workdir, missing="zero")
    drop(workdir, "S_1.csv", rows(20))
    assert cli("run", str(prof), cwd=workdir, env=env).returncode == 0
    lines = ["SKU;NAME;PRICE;QTY"] + [f"{k};Article {k};{p};{'x' if k == 'SKU00004' else q}"
                                      for k, (p, q) in list(rows(20).items())[:19]]
    (workdir / "inbox" / "S_2.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 1, r.stdout + r.stderr  # the bad row
    state = shop_state(shop)
    assert state["SKU00019"][1] == 0  # really left the catalog: zeroed
    assert state["SKU00004"] == expected(rows(20))["SKU00004"]  # only badly listed: kept


def test_watch_sends_what_an_outage_left_queued_once_the_shop_is_back(workdir, shop, env):
    prof = profile(workdir, limits={"max_backoff": 0.01, "retries": 1})
    shop.faults.fail(100_000, 503)
    p = subprocess.Popen([sys.executable, "-m", "filebridge", "watch", str(prof)],
                         cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        drop(workdir, "S_1.csv", rows(50))
        wait_for(lambda: (workdir / "feedback" / "S_1.ack.csv").exists(), timeout=60,
                 what="the ack")
        assert ack(workdir, "S_1")["queued"] == "50" and not shop.catalog()
        shop.faults.queue.clear()  # the shop is back: no new file needed
        wait_for(lambda: len(shop.catalog()) == 50, timeout=60, what="the queued changes")
        assert shop_state(shop) == expected(rows(50))
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "queued 50" in err and "ck_sync" not in err and "cs_sync" not in err


def test_a_value_no_shop_can_take_rejects_its_row_and_the_rest_are_sent(workdir, shop, env):
    # The quantity is read as text here, so "tre" reaches the shop's canonical
    # record, which refuses it (catalog/record.py): that row is a reject with its
    # line, the others go to the shop, and the counts add up.
    from ruamel.yaml import YAML

    prof = profile(workdir)
    yaml = YAML()
    doc = yaml.load(prof)
    del doc["read"]["fields"]["QTY"]
    yaml.dump(doc, prof)
    data = rows(6)
    drop(workdir, "S_1.csv", data, extra="SKU00099;Article 99;10.90;tre\n")
    r = cli("run", str(prof), cwd=workdir, env=env)
    assert r.returncode == 1, r.stdout + r.stderr  # rows rejected
    a = ack(workdir, "S_1")
    assert (a["read"], a["sent"], a["rejected"]) == ("7", "6", "1"), a
    [rej] = read_csv(workdir / "feedback" / "S_1.rejects.csv", ";")
    assert rej["line"] == "8" and "tre" in rej["reason"], rej
    assert sorted(shop.catalog()) == sorted(data)
