"""Issue 11 defect 3: shop changes that stay queued are never silent (``run`` and
``watch --once`` exit 6 and say why, a 401 too); changes are kept under an id the
profile controls, and changes queued under an id no output has are reported, moved
with ``filebridge rekey`` or dropped; and the ERP gets a follow-up ack for an input
whose ack said ``queued`` once those changes are finally settled. The CLI runs in
subprocesses against the loopback WooCommerce server (tests/shops/woocommerce.py)."""

from __future__ import annotations

import sqlite3
from functools import partial
from pathlib import Path

import pytest
from helpers import filebridge, read_csv
from shops.woocommerce import WooServer
from test_api_sync import N, drop, expected, profile, rows, shop_state

pytestmark = pytest.mark.timeout(180)


SHOP = partial(WooServer, key="ck_sync", secret="cs_sync")


def run(*args: str, env: dict[str, str], cwd: Path):
    return filebridge(*args, env=env, cwd=cwd)


def env_for(shop: WooServer, secret: str = "cs_sync") -> dict[str, str]:
    return {"WOO_URL": shop.url, "WOO_KEY": "ck_sync", "WOO_SECRET": secret}


def ack_of(path: Path) -> dict[str, str]:
    [row] = read_csv(path, ";")
    assert int(row["read"]) == sum(int(row[k]) for k in ("sent", "unchanged", "rejected",
                                                         "skipped", "queued"))
    return row


def test_queued_changes_fail_loudly_until_sent_then_a_followup_ack(workdir, shop):
    env = env_for(shop)
    prof = profile(workdir, limits={"max_backoff": 0.01, "retries": 1})
    drop(workdir, "S_1.csv", rows())
    shop.faults.fail(100_000, 503)
    first = run("run", str(prof), env=env, cwd=workdir)
    assert first.returncode == 6, first.stdout + first.stderr
    queued = int(ack_of(workdir / "feedback" / "S_1.ack.csv")["queued"])
    assert queued > 0

    # Nothing new to read, the shop still down: not "nothing to do" and 0.
    again = run("run", str(prof), env=env, cwd=workdir)
    assert again.returncode == 6, again.stdout + again.stderr
    sink = f"woocommerce_api:{shop.url}"
    assert f"{sink}: failed - {queued} changes stay queued: " in again.stdout
    assert "nothing to do" not in again.stdout
    once = run("watch", "--once", str(prof), env=env, cwd=workdir)
    assert once.returncode == 6, once.stderr
    assert " ERROR " in once.stderr and f"{queued} changes stay queued" in once.stderr
    assert not (workdir / "feedback" / "S_1.ack.followup.csv").exists()

    shop.faults.queue.clear()
    back = run("run", str(prof), env=env, cwd=workdir)
    assert back.returncode == 0, back.stdout + back.stderr
    assert shop_state(shop) == expected(rows())
    original = ack_of(workdir / "feedback" / "S_1.ack.csv")
    assert int(original["queued"]) == queued  # the first ack stays as the ERP got it
    follow = ack_of(workdir / "feedback" / "S_1.ack.followup.csv")
    assert (follow["file"], follow["status"], follow["read"], follow["sent"],
            follow["queued"]) == ("S_1.csv", "done", str(N), str(N), "0")
    assert follow["reason"] == (f"follow-up: of the {queued} rows queued, {queued} sent, 0 "
                                "refused by the shop, 0 overtaken by a later change to the "
                                "same key")
    written = (workdir / "feedback" / "S_1.ack.followup.csv").stat().st_mtime_ns
    assert run("run", str(prof), env=env, cwd=workdir).returncode == 0
    assert (workdir / "feedback" / "S_1.ack.followup.csv").stat().st_mtime_ns == written
    assert not list((workdir / "feedback").glob(".filebridge-tmp-*"))


def test_a_refused_login_exits_6_on_every_run(workdir, shop):
    env = env_for(shop, secret="cs_wrong")
    prof = profile(workdir, limits={"max_backoff": 0.01, "retries": 1})
    drop(workdir, "S_1.csv", rows(5))
    assert run("run", str(prof), env=env, cwd=workdir).returncode == 6
    again = run("run", str(prof), env=env, cwd=workdir)
    assert again.returncode == 6, again.stdout + again.stderr
    assert "5 changes stay queued" in again.stdout and "401" in again.stdout


def test_a_new_url_does_not_strand_queued_changes(workdir, shop):
    prof = profile(workdir, limits={"max_backoff": 0.01, "retries": 1})
    drop(workdir, "S_1.csv", rows(20))
    shop.faults.fail(100_000, 503)
    assert run("run", str(prof), env=env_for(shop), cwd=workdir).returncode == 6
    old = f"woocommerce_api:{shop.url}"
    with WooServer(key="ck_sync", secret="cs_sync") as moved:  # the shop's new address
        env = env_for(moved)
        new = f"woocommerce_api:{moved.url}"
        r = run("run", str(prof), env=env, cwd=workdir)
        assert r.returncode == 6, r.stdout + r.stderr
        assert f"{old}: failed - 20 changes are queued for {old}, which no output" in r.stdout
        assert f"filebridge rekey PROFILE '{old}' ITS_ID" in r.stdout
        st = run("status", "--profile", str(prof), env=env, cwd=workdir).stdout
        assert f"{old} [stock] queued=20" in st

        moved_ = run("rekey", str(prof), old, new, env=env, cwd=workdir)
        assert moved_.returncode == 0, moved_.stderr
        r = run("run", str(prof), env=env, cwd=workdir)
        assert r.returncode == 0, r.stdout + r.stderr
        assert shop_state(moved) == expected(rows(20))
        follow = ack_of(workdir / "feedback" / "S_1.ack.followup.csv")
        assert (follow["sent"], follow["queued"]) == ("20", "0")


def test_an_id_keeps_the_state_and_adopts_what_the_url_kept(workdir, shop):
    env = env_for(shop)
    prof = profile(workdir)
    drop(workdir, "S_1.csv", rows(30))
    assert run("run", str(prof), env=env, cwd=workdir).returncode == 0
    before = shop.requests
    prof = profile(workdir, id="shop")  # added later: the state moves to the id
    drop(workdir, "S_2.csv", rows(30), extra="\n")
    r = run("run", str(prof), env=env, cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert shop.requests == before  # nothing sent again: the acknowledged state moved
    con = sqlite3.connect(workdir / "profiles" / "filebridge.db")
    assert con.execute("SELECT DISTINCT sink FROM shop_state").fetchall() == [("shop",)]

    # With an id the url can change and nothing is stranded or resent.
    with WooServer(key="ck_sync", secret="cs_sync") as moved:
        r = run("run", str(prof), env=env_for(moved), cwd=workdir)
        assert r.returncode == 0 and "nothing to do" in r.stdout
