"""The console over plain HTTP (requests against the real app served by uvicorn on a
loopback port, in this process): login, roles, CSRF, what pages show and refuse.
The site: tests/console_site.py (two processed profiles on a real ledger, a run held
by the breaker, a real loopback WooCommerce server)."""

from __future__ import annotations

import csv
import io
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import uvicorn
from conftest import write_profile
from console_site import PASSWORDS, Site, build, run_cli
from shops.woocommerce import WooServer

from filebridge.console.app import console_app
from filebridge.console.overview import state_of
from filebridge.console.users import Users, line
from filebridge.job import Job
from filebridge.ledger import SqliteLedger
from filebridge.ledger import console as q
from filebridge.ledger.inventory import InventoryRows
from filebridge.orders.base import OrderLine
from filebridge.profile import load_profile
from filebridge.serve import app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def site(workdir, cli_env, monkeypatch) -> Iterator[tuple[Site, WooServer]]:
    with WooServer(key="ck_console", secret="cs_console") as woo:
        s = build(workdir, cli_env, woo.url)
        for k in ("WOO_URL", "WOO_KEY", "WOO_SECRET"):
            monkeypatch.setenv(k, s.env[k])
        yield s, woo


@contextmanager
def serving(jobs: list[Job], users: Users) -> Iterator[str]:
    """The real app (webhooks and console) for ``jobs`` on a free loopback port."""
    web = app(jobs, console_app(jobs, users, max_upload=64 * 1024))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=port,
                                           log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and t.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(timeout=30)
        for j in jobs:
            j.close()
            j.ledger.close()


@pytest.fixture
def base(site) -> Iterator[str]:
    s, _ = site
    with serving([Job(load_profile(s.stock)), Job(load_profile(s.listino))],
                 Users.load(s.users)) as url:
        yield url


def token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


def logged_in(base: str, name: str) -> tuple[requests.Session, str]:
    s = requests.Session()
    form = s.get(base + "/login", timeout=10)
    r = s.post(base + "/login", data={"name": name, "password": PASSWORDS[name],
                                      "csrf": token(form.text)}, timeout=10)
    assert r.status_code == 200 and r.url == base + "/", r.text
    return s, token(r.text)


def ledger(site: Site) -> SqliteLedger:
    return SqliteLedger(site.root / "ledger.db")


def test_every_page_needs_a_login_and_a_wrong_password_is_refused(base):
    for path in ("/", "/profiles/stock", "/profiles/stock/runs/1", "/profiles/stock/files/1",
                 "/profiles/stock/files/1/rejects.csv"):
        r = requests.get(base + path, allow_redirects=False, timeout=10)
        assert (r.status_code, r.headers["location"]) == (303, "/login"), path
    s = requests.Session()
    form = s.get(base + "/login", timeout=10)
    for name, pw in (("alice", "wrong"), ("nobody", PASSWORDS["alice"])):
        r = s.post(base + "/login", data={"name": name, "password": pw,
                                          "csrf": token(form.text)}, timeout=10)
        assert r.status_code == 401 and "wrong name or password" in r.text
    assert s.get(base + "/", allow_redirects=False, timeout=10).status_code == 303
    # guessing: five wrong passwords for a name lock it for a while, right or wrong
    for _ in range(5):
        r = s.post(base + "/login", data={"name": "victor", "password": "guess",
                                          "csrf": token(form.text)}, timeout=10)
        assert r.status_code == 401
    r = s.post(base + "/login", data={"name": "victor", "password": PASSWORDS["victor"],
                                      "csrf": token(form.text)}, timeout=10)
    assert r.status_code == 429 and "too many wrong passwords" in r.text
    # no script runs, no framing, no caching; the cookie is signed, HttpOnly, SameSite
    assert "script-src" not in form.headers["content-security-policy"]
    assert "default-src 'none'" in form.headers["content-security-policy"]
    assert form.headers["x-frame-options"] == "DENY"
    assert form.headers["cache-control"] == "no-store"
    cookie = form.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    # a POST without a session is refused before anything is looked at
    r = requests.post(base + "/profiles/stock/sync", data={"csrf": "x"}, timeout=10)
    assert r.status_code == 401


def test_a_post_without_the_csrf_token_is_refused(base, site):
    s = requests.Session()
    s.get(base + "/login", timeout=10)
    r = s.post(base + "/login", data={"name": "alice", "password": PASSWORDS["alice"]},
               timeout=10)
    assert r.status_code == 403 and "CSRF" in r.text  # login too: no login CSRF
    alice, csrf = logged_in(base, "alice")
    for data in ({}, {"csrf": "not-the-token"}, {"csrf": ""}):
        r = alice.post(base + "/profiles/stock/sync", data=data, timeout=10)
        assert r.status_code == 403 and "CSRF" in r.text
        r = alice.post(base + f"/profiles/stock/runs/{site[0].held_run}/approve", data=data,
                       timeout=10)
        assert r.status_code == 403
    # another session's token is not this one's
    _, other_csrf = logged_in(base, "alice")
    assert other_csrf != csrf
    assert alice.post(base + "/profiles/stock/sync", data={"csrf": other_csrf},
                      timeout=10).status_code == 403
    db = ledger(site[0])
    assert q.syncs(db, "stock") == [] and q.held(db, "stock")  # nothing happened
    assert alice.post(base + "/profiles/stock/sync", data={"csrf": csrf},
                      timeout=10).status_code == 202
    assert [x["asked_by"] for x in q.syncs(db, "stock")] == ["alice"]


def test_a_viewer_sees_but_cannot_approve_sync_or_upload(base, site):
    s, woo = site
    victor, csrf = logged_in(base, "victor")
    page = victor.get(base + f"/profiles/stock/runs/{s.held_run}", timeout=10)
    assert page.status_code == 200 and "Held by the circuit breaker" in page.text
    assert 'id="approve"' not in page.text and "Only an operator can approve" in page.text
    before = woo.requests
    r = victor.post(base + f"/profiles/stock/runs/{s.held_run}/approve", data={"csrf": csrf},
                    timeout=10)
    assert r.status_code == 403 and "operators only" in r.text
    assert victor.post(base + "/profiles/stock/sync", data={"csrf": csrf},
                       timeout=10).status_code == 403
    r = victor.post(base + "/profiles/listino/upload", data={"csrf": csrf},
                    files={"file": ("LISTINO_9.xlsx", b"x")}, timeout=10)
    assert r.status_code == 403
    db = ledger(s)
    assert [h["run"] for h in q.held(db, "stock")] == [s.held_run] and q.syncs(db, "stock") == []
    assert woo.requests == before and not list((s.root / "inbox/listino").iterdir())


def test_profiles_page_shows_last_file_counts_breaker_queue_and_last_error(base, site):
    s, _ = site
    alice, _ = logged_in(base, "alice")
    html = alice.get(base + "/", timeout=10).text
    rows = {m.group(1): m.group(0) for m in re.finditer(
        r'<tr[^>]*>\s*<td><a href="/profiles/(\w+)">.*?</tr>', html, re.DOTALL)}
    assert set(rows) == {"stock", "listino"}
    assert "S_2.csv" in rows["stock"] and "read 20" in rows["stock"]
    # 180 SKUs missing from the truncated file zeroed, SKU00007 (rejected before) created
    assert f"holding run #{s.held_run} (woo: 181 changes)" in rows["stock"]
    assert "LISTINO_1.xlsx" in rows["listino"] and "rejected 2" in rows["listino"]
    assert "no shop API" in rows["listino"]
    assert re.search(r'class="bad">LISTINO_0.xlsx</span> \([^)]*\): \S', rows["listino"])
    assert "none" in rows["stock"].split("<td>")[7]  # no error in stock
    shops = alice.get(base + "/profiles/stock", timeout=10).text
    woo_row = re.search(r'<table id="shops">.*?<td>woo</td>(.*?)</tr>', shops, re.DOTALL)
    assert woo_row and re.search(r"<td>\d{4}-\d\d-\d\d [\d:]+</td><td>-</td><td>-</td>",
                                 woo_row.group(1)), shops  # took changes; none waits
    # secrets never shown: the shop's keys are in the environment the profile names
    for page in ("/", "/profiles/stock", f"/profiles/stock/runs/{s.held_run}"):
        text = alice.get(base + page, timeout=10).text
        assert "ck_console" not in text and "cs_console" not in text


def test_a_files_rejects_are_shown_filtered_and_downloaded(base, site):
    s, _ = site
    alice, _ = logged_in(base, "alice")
    [fid] = [f["id"] for f in q.files(ledger(s), "listino") if f["name"] == "LISTINO_1.xlsx"]
    html = alice.get(base + f"/profiles/listino/files/{fid}", timeout=10).text
    assert "2 of 2 lines" in html
    lines = re.findall(r"<tr><td>(\d+)</td><td>(\w*)</td>", html)
    assert lines == [("4", "sku"), ("5", "price")]  # sheet rows: header is row 1
    html = alice.get(base + f"/profiles/listino/files/{fid}", params={"field": "price"},
                     timeout=10).text
    assert "1 of 2 lines" in html and re.findall(r"<tr><td>(\d+)</td>", html) == ["5"]
    whole = alice.get(base + f"/profiles/listino/files/{fid}/rejects.csv", timeout=10)
    assert whole.status_code == 200 and whole.content == (
        s.root / "feedback/listino/LISTINO_1.rejects.csv").read_bytes()
    part = alice.get(base + f"/profiles/listino/files/{fid}/rejects.csv",
                     params={"field": "sku"}, timeout=10)
    got = list(csv.DictReader(io.StringIO(part.text), delimiter=";"))
    assert [(r["line"], r["field"]) for r in got] == [("4", "sku")]
    # a file of another profile is not reachable under this one
    other = q.files(ledger(s), "stock")[0]["id"]
    assert alice.get(base + f"/profiles/listino/files/{other}", timeout=10).status_code == 404


def test_a_files_run_report_is_linked_and_served_and_nothing_else_is(base, site):
    s, _ = site
    victor, _ = logged_in(base, "victor")  # a viewer may read reports
    [fid] = [f["id"] for f in q.files(ledger(s), "listino") if f["name"] == "LISTINO_1.xlsx"]
    html = victor.get(base + f"/profiles/listino/files/{fid}", timeout=10).text
    m = re.search(r'<a id="report" href="([^"]+)"', html)
    assert m and m.group(1) == "/profiles/listino/reports/LISTINO_1.report.html", html
    # the ack names the same report
    with open(s.root / "feedback/listino/LISTINO_1.ack.csv", encoding="utf-8") as fh:
        [ack] = list(csv.DictReader(fh, delimiter=";"))
    assert ack["report"] == "LISTINO_1.report.html"
    r = victor.get(base + m.group(1), timeout=10)
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.content == (s.root / "feedback/listino/LISTINO_1.report.html").read_bytes()
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none'
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    # a profile that writes no report links none
    other = q.files(ledger(s), "stock")[0]["id"]
    assert 'id="report"' not in victor.get(base + f"/profiles/stock/files/{other}",
                                           timeout=10).text
    # only .html files inside the profile's report folder: no traversal, no other file
    (s.root / "secret.html").write_text("<p>outside</p>", encoding="utf-8")
    (s.root / "feedback/listino/link.html").symlink_to(s.root / "secret.html")
    for name in ("..%2F..%2Fledger.db", "%2e%2e/%2e%2e/ledger.db", "..%2F..%2Fsecret.html",
                 "%2e%2e%2flisting%2f..%2f..%2fsecret.html", "link.html",
                 "LISTINO_1.rejects.csv", "LISTINO_1.ack.csv", "nothing.report.html",
                 "%2Fetc%2Fpasswd", "%2e%2e", "sub%2F..%2F..%2Fsecret.html"):
        r = victor.get(base + "/profiles/listino/reports/" + name, timeout=10,
                       allow_redirects=False)
        assert r.status_code == 404, (name, r.status_code)
        assert "outside" not in r.text and "SQLite" not in r.text
    assert victor.get(base + "/profiles/stock/reports/LISTINO_1.report.html",
                      timeout=10).status_code == 404  # no report folder: stock writes none
    assert requests.get(base + m.group(1), allow_redirects=False,
                        timeout=10).status_code == 303  # login first


def test_approve_releases_the_held_run_and_the_watcher_sends_it(base, site):
    s, woo = site
    alice, csrf = logged_in(base, "alice")
    page = alice.get(base + f"/profiles/stock/runs/{s.held_run}", timeout=10).text
    assert "zero 180" in page and "create 1" in page
    # SKU00050 had 50 % 17 = 16 in stock: the diff says what the shop will hold instead
    assert re.search(r"<td>SKU00050</td><td class=\"op-zero\">zero</td><td></td>\s*"
                     r"<td><pre>stock: 16 &rarr; 0\s*</pre>", page)
    assert re.search(r"<td>SKU00007</td><td class=\"op-create\">create</td><td>9</td>", page)
    before = woo.requests
    r = alice.post(base + f"/profiles/stock/runs/{s.held_run}/approve", data={"csrf": csrf},
                   timeout=30)
    assert r.status_code == 200 and "woo: 181 changes released" in r.text
    db = ledger(s)
    assert q.held(db, "stock") == [] and q.outbox(db, "stock")["woo"]["queued"] == 181
    assert woo.requests == before  # not sent in the web request
    [ask] = q.syncs(db, "stock")
    assert ask["taken"] is None
    # the same code path as the CLI: a second approval finds nothing held
    r = alice.post(base + f"/profiles/stock/runs/{s.held_run}/approve", data={"csrf": csrf},
                   timeout=30)
    assert r.status_code == 409 and "has no held changes" in r.text
    w = run_cli("watch", "--once", str(s.stock), cwd=s.root, env=s.env)
    assert w.returncode == 0, w.stderr
    assert q.outbox(db, "stock")["woo"].get("queued", 0) == 0 and woo.requests > before
    [ask] = q.syncs(db, "stock")
    assert ask["taken"] and ask["done"] and ask["outcome"] == "done: no file was ready"
    zeroed = [p for p in woo.shop.products.values() if p.get("stock_quantity") == 0]
    assert len(zeroed) >= 180


def test_upload_is_size_limited_named_for_the_inbox_and_applied_atomically(base, site):
    s, _ = site
    alice, csrf = logged_in(base, "alice")
    big = b"x" * (70 * 1024)
    r = alice.post(base + "/profiles/listino/upload", data={"csrf": csrf},
                   files={"file": ("LISTINO_2.xlsx", big)}, timeout=10)
    assert r.status_code == 413
    r = alice.post(base + "/profiles/listino/upload", data={"csrf": csrf},
                   files={"file": ("prices.xlsx", b"PK")}, timeout=10)
    assert r.status_code == 400 and "LISTINO_*.xlsx" in r.text
    r = alice.post(base + "/profiles/listino/upload", data={"csrf": csrf},
                   files={"file": ("LISTINO_3.xlsx", b"not a workbook")}, timeout=30)
    assert r.status_code == 200 and "The whole file would be rejected: not an .xlsx" in r.text
    assert 'id="apply"' not in r.text  # nothing to apply
    assert not list((s.root / ".console-uploads/listino").iterdir())  # not kept
    sheet = (s.root / "inbox/listino/../../LISTINO_1.xlsx")
    from console_site import LISTINO_ROWS, spreadsheet

    spreadsheet(sheet, LISTINO_ROWS)
    r = alice.post(base + "/profiles/listino/upload", data={"csrf": csrf},
                   files={"file": ("../../LISTINO_2.xlsx", sheet.read_bytes())}, timeout=30)
    assert r.status_code == 200, r.text
    assert "5 rows read, 2 rejected" in r.text
    assert r.text.index('id="rejects"') < r.text.index('id="records"')  # rejects first
    assert not list((s.root / "inbox/listino").iterdir())  # nothing before Apply
    found = re.search(r'action="(/profiles/listino/upload/[^/]+/apply)"', r.text)
    assert found is not None
    apply_to = found.group(1)
    r = alice.post(base + apply_to, data={"csrf": csrf, "action": "apply"}, timeout=30)
    assert r.status_code == 200 and "is in listino" in r.text
    landed = s.root / "inbox/listino/LISTINO_2.xlsx"
    assert [p.name for p in landed.parent.iterdir()] == ["LISTINO_2.xlsx"]
    assert landed.read_bytes() == sheet.read_bytes()
    # applied once: the copy aside is gone
    r = alice.post(base + apply_to, data={"csrf": csrf, "action": "apply"}, timeout=30)
    assert r.status_code == 409


def test_serve_binds_to_localhost_by_default():
    from filebridge.cli import serve

    host = next(p for p in serve.params if p.name == "host")
    assert host.default == "127.0.0.1"


def test_the_users_file_holds_argon2_hashes_only(site):
    s, _ = site
    text = s.users.read_text()
    assert PASSWORDS["alice"] not in text and PASSWORDS["victor"] not in text
    assert all(ln.split(":", 2)[2].startswith("$argon2id$") for ln in text.splitlines())
    bad = s.root / "bad-users"
    bad.write_text("alice:admin:$argon2id$x\n")
    with pytest.raises(Exception, match="line 1"):
        Users.load(bad)
    alice_user = Users.load(s.users).check("alice", PASSWORDS["alice"])
    assert alice_user is not None and alice_user.operator
    assert Users.load(s.users).check("victor", PASSWORDS["alice"]) is None
    Path(bad).unlink()


def test_stock_page_shows_availability_per_sku_with_its_parts(site):
    s, _ = site
    giacenze = write_profile(s.root, {
        "name": "giacenze",
        "source": {"kind": "local", "path": "../inbox/giacenze", "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";", "fields": {"QTY": {"type": "integer"}}},
        "map": {"key": "sku"},
        "stock": {"inventory": "shared", "sku": "SKU", "quantity": "QTY", "location": "WH",
                  "web": ["MAG", "MI"], "safety": [{"qty": 1, "sku": "B*"}],
                  "as_of": {"name": r"DISPO_(\d{8}_\d{4})", "timezone": "UTC"}},
        "write": [{"format": "csv", "path": "../outbox/giacenze/{stem}.csv"}],
        "ledger": "../ledger.db"}, "giacenze.yaml")
    (s.root / "inbox/giacenze").mkdir()
    (s.root / "inbox/giacenze/DISPO_20261128_0200.csv").write_text(
        "SKU;WH;QTY\nA;MAG;5\nA;MI;2\nA;NEG;9\nB1;MAG;3\nC;MAG;1\n", encoding="utf-8")
    r = run_cli("run", str(giacenze), cwd=s.root, env=s.env)
    assert r.returncode == 0, r.stdout + r.stderr
    job = Job(load_profile(giacenze))
    assert job.inventory is not None
    after = datetime(2026, 11, 28, 3, 0, tzinfo=UTC).timestamp()
    job.inventory.record_orders("web:woo", [OrderLine("W1", "1", "A", 2, "processing", after,
                                                      after),
                                            OrderLine("W2", "1", "C", 3, "processing", after,
                                                      after)])
    job.inventory.record_store("pos:negozio", [("R1", [OrderLine("R1", "1", "A", 1, "",
                                                                 after, after, "MAG")])],
                               changed=after)
    with serving([job], Users.load(s.users)) as url:
        victor, _ = logged_in(url, "victor")
        html = victor.get(url + "/profiles/giacenze/stock", timeout=10).text
        got = {m[0]: m[1:] for m in re.findall(
            r"<tr><td>([A-Z0-9]+)</td><td>(\d+)[^<]*(?:<span[^>]*>[^<]*</span>)?</td>\s*"
            r"<td>([-+]?\d+)</td><td>([-+]?\d+)</td><td>(\d+)</td><td>(\d+)</td>"
            r"<td><strong>(\d+)</strong></td><td>(?:<span class=\"bad\">(\d+)</span>)?</td>",
            html)}
        # A: MAG 5 + MI 2 (NEG serves no web), a web sale of 2 and a store sale of 1 -> 4
        assert got["A"] == ("7", "-2", "-1", "0", "0", "4", "")
        assert got["B1"] == ("3", "0", "0", "0", "1", "2", "")  # safety stock B*: 1
        assert got["C"] == ("1", "-3", "0", "0", "0", "0", "2")  # sold 3 of 1: oversold 2
        assert "MAG 5, MI 2" in html and "NEG" not in html
        prefixed = victor.get(url + "/profiles/giacenze/stock", params={"sku": "B"},
                              timeout=10).text
        assert "<td>B1</td>" in prefixed and "<td>A</td>" not in prefixed


def test_console_user_prints_a_line_the_users_file_takes(tmp_path, cli_env):
    env = cli_env | {"FILEBRIDGE_CONSOLE_PASSWORD": "pw-of-marco"}
    r = run_cli("console-user", "marco", "--role", "operator", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "pw-of-marco" not in r.stdout + r.stderr
    (tmp_path / "users").write_text(r.stdout, encoding="utf-8")
    users = Users.load(tmp_path / "users")
    assert users.check("marco", "pw-of-marco") == users.check("marco", "pw-of-marco")
    marco = users.check("marco", "pw-of-marco")
    assert marco is not None and marco.operator
    assert users.check("marco", "pw-of-marc") is None
    r = run_cli("console-user", "a:b", cwd=tmp_path, env=env)
    assert r.returncode == 2 and "without ':'" in r.stderr


def test_sync_now_runs_a_stock_profiles_order_pull_in_the_watcher(workdir, cli_env):
    """A stock profile pulls the shop's orders hourly; sync now makes the running
    watcher pull (and push the availability) at once."""
    with WooServer(key="ck_dispo", secret="cs_dispo") as woo:
        woo.shop.create({"sku": "A", "name": "A", "manage_stock": True, "stock_quantity": 0})
        env = cli_env | {"WOO_URL": woo.url, "WOO_KEY": "ck_dispo", "WOO_SECRET": "cs_dispo"}
        prof = write_profile(workdir, {
            "name": "dispo",
            "source": {"kind": "local", "path": "../inbox", "pattern": ["*.csv"],
                       "ready": {"stable_for": "0s"}},
            "read": {"format": "csv", "delimiter": ";", "fields": {"QTY": {"type": "integer"}}},
            "map": {"key": "sku"},
            "stock": {"inventory": "dispo", "sku": "SKU", "quantity": "QTY",
                      "schedule": {"orders": {"every": "1h"}}},
            "write": [{"id": "woo", "format": "woocommerce_api", "url": "${WOO_URL}",
                       "sync": "stock", "consumer_key": "${WOO_KEY}",
                       "consumer_secret": "${WOO_SECRET}", "limits": {"max_backoff": 0.05}}],
            "ledger": "../ledger.db"}, "dispo.yaml")
        (workdir / "inbox/DISPO_1.csv").write_text("SKU;QTY\nA;5\n", encoding="utf-8")
        r = run_cli("run", str(prof), cwd=workdir, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert woo.shop.catalog()["A"]["stock_quantity"] == 5
        db = ledger_at(workdir)
        log = (workdir / "watch.log").open("w")
        watch = subprocess.Popen([sys.executable, "-m", "filebridge", "watch", str(prof)],
                                 cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait(lambda: q.schedules(db, "dispo").get("orders", {}).get("status") == "done",
                 "the first scheduled pull")  # every: runs once when first seen
            woo.add_order([("A", 2)])  # the shop takes the 2 off its own figure
            rows = InventoryRows(db, "dispo")
            time.sleep(2)
            assert rows.movements() == []  # the next pull is an hour away
            n = q.ask_sync(db, "dispo", "alice")
            wait(lambda: q.syncs(db, "dispo")[0]["done"], "the sync")
            [done] = q.syncs(db, "dispo")
            assert done["id"] == n and "orders run" in done["outcome"], done
            assert [(m.source, m.kind, m.sku, m.qty) for m in rows.movements()] == [
                ("web:woo", "sale", "A", -2)]
            assert woo.shop.catalog()["A"]["stock_quantity"] == 3  # the shop and the ledger agree
            assert q.schedules(db, "dispo")["orders"]["runs"] == 1  # not the timetable's
        finally:
            watch.send_signal(signal.SIGTERM)
            watch.wait(timeout=60)
            log.close()
            db.close()


def ledger_at(root: Path) -> SqliteLedger:
    return SqliteLedger(root / "ledger.db")


def wait(check, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_drift_check_is_an_operators_post_that_reads_the_shop_and_corrects_nothing(
        workdir, cli_env, monkeypatch):
    """The stock page shows reconcile's drift report: B edited in the shop by hand, A
    sold beyond its stock. Checking reads the shop (network), so only an operator's
    POST does it; viewers see the last check; the shop keeps its figures."""
    with WooServer(key="ck_dispo", secret="cs_dispo") as woo:
        ids = {sku: woo.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                                     "stock_quantity": 0})["id"] for sku in ("A", "B", "C")}
        env = cli_env | {"WOO_URL": woo.url, "WOO_KEY": "ck_dispo", "WOO_SECRET": "cs_dispo"}
        prof = write_profile(workdir, {
            "name": "dispo",
            "source": {"kind": "local", "path": "../inbox", "pattern": ["*.csv"],
                       "ready": {"stable_for": "0s"}},
            "read": {"format": "csv", "delimiter": ";", "fields": {"QTY": {"type": "integer"}}},
            "map": {"key": "sku"},
            "stock": {"inventory": "dispo", "sku": "SKU", "quantity": "QTY",
                      "orders": False},
            "write": [{"id": "woo", "format": "woocommerce_api", "url": "${WOO_URL}",
                       "sync": "stock", "consumer_key": "${WOO_KEY}",
                       "consumer_secret": "${WOO_SECRET}", "limits": {"max_backoff": 0.05}}],
            "ledger": "../ledger.db"}, "dispo.yaml")
        (workdir / "inbox/DISPO_1.csv").write_text("SKU;QTY\nA;5\nB;2\nC;4\n",
                                                   encoding="utf-8")
        ran = run_cli("run", str(prof), cwd=workdir, env=env)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert woo.shop.catalog()["B"]["stock_quantity"] == 2
        woo.shop.update(ids["B"], {"stock_quantity": 9})  # edited by hand, behind our back
        for k in ("WOO_URL", "WOO_KEY", "WOO_SECRET"):
            monkeypatch.setenv(k, env[k])
        job = Job(load_profile(prof))
        assert job.inventory is not None
        state = state_of(job)
        now = time.time() + 1
        job.inventory.record_orders("web:woo", [OrderLine("W1", "1", "A", 7, "processing",
                                                          now, now)])  # 7 of 5: 2 oversold
        users = workdir / "console-users"
        users.write_text(line("alice", "operator", PASSWORDS["alice"]) + "\n"
                         + line("victor", "viewer", PASSWORDS["victor"]) + "\n",
                         encoding="utf-8")
        with serving([job], Users.load(users)) as url:
            victor, vcsrf = logged_in(url, "victor")
            page = victor.get(url + "/profiles/dispo/stock", timeout=10).text
            assert "No drift check since" in page and 'id="check-drift"' not in page
            r = victor.post(url + "/profiles/dispo/stock/drift", data={"csrf": vcsrf},
                            timeout=10)
            assert r.status_code == 403
            assert "drifting" not in victor.get(url + "/profiles/dispo/stock", timeout=10).text
            alice, csrf = logged_in(url, "alice")
            r = alice.post(url + "/profiles/dispo/stock/drift", data={"csrf": "wrong"},
                           timeout=10)
            assert r.status_code == 403  # CSRF
            r = alice.post(url + "/profiles/dispo/stock/drift", data={"csrf": csrf},
                           timeout=60)
            assert r.status_code == 200 and r.url.endswith("/profiles/dispo/stock#drift"), r.text
            for html in (r.text, victor.get(url + "/profiles/dispo/stock", timeout=10).text):
                assert "by alice" in html
                assert re.search(r'id="drift-woo">3 SKUs, <span class="bad">2 drifting</span>,'
                                 r" 1 oversold \(2 units\)", html), html
                rows = re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td><td>(\d+)</td><td>([-\d]+)"
                                  r"</td><td>(\d+)</td><td>(\d+)</td><td class=\"bad\">"
                                  r"([-+]\d+)</td></tr>", html)
                # sku, ERP, available, acknowledged, expected, shop, drift
                assert rows == [("A", "5", "0", "5", "0", "5", "+5"),
                                ("B", "2", "2", "2", "2", "9", "+7")], rows
                assert re.findall(r'<tr><td>(\w+)</td><td class="bad">(\d+)</td></tr>',
                                  html) == [("A", "2")]
        # read-only: nothing was corrected or queued
        cat = woo.shop.catalog()
        assert (cat["A"]["stock_quantity"], cat["B"]["stock_quantity"]) == (5, 9)
        db = ledger_at(workdir)
        try:
            assert q.shop_health(db, state).get("woo", {}).get("waiting_since") is None
        finally:
            db.close()


def test_sftp_health_shows_the_pinned_key_and_failures_and_no_secret(workdir, cli_env,
                                                                     monkeypatch):
    """A profile whose SFTP source is down: the profile page shows the server, the host
    key pinned for it (as ssh-keygen -lf prints it) and since when it fails, as the
    alerts rows of the ledger keep it; never the password."""
    import paramiko

    from filebridge.transport import hostkeys

    port = free_port()  # nothing listens: the source is down
    kh = workdir / "known_hosts"
    host_key = paramiko.ECDSAKey.generate()  # the public half is what is pinned
    hostkeys.pin(kh, "127.0.0.1", port, host_key)
    password = "sftp-Pa55-word-never-shown"
    env = cli_env | {"SFTP_PW": password}
    monkeypatch.setenv("SFTP_PW", password)
    prof = write_profile(workdir, {
        "name": "erp",
        "source": {"kind": "sftp", "host": "127.0.0.1", "port": port, "user": "erp",
                   "password": "${SFTP_PW}", "known_hosts": str(kh),
                   "connect_timeout": "2s", "retry": {"attempts": 1, "wait": "0.1s"},
                   "path": "inbox", "pattern": ["*.csv"], "work": str(workdir / "work")},
        "read": {"format": "csv", "delimiter": ";"},
        "map": {"key": "sku"},
        "write": [{"format": "csv", "path": "../outbox/{stem}.csv"}],
        # alerts keep the failures in the ledger; told only after an hour (never here)
        "alerts": {"webhook": {"url": f"http://127.0.0.1:{free_port()}/hook"},
                   "down_after": "1h"},
        "ledger": "../ledger.db"}, "erp.yaml")
    before = time.time()
    ran = run_cli("run", str(prof), cwd=workdir, env=env)
    assert ran.returncode == 6 and "cannot connect" in ran.stderr, ran.stderr
    users = workdir / "console-users"
    users.write_text(line("victor", "viewer", PASSWORDS["victor"]) + "\n", encoding="utf-8")
    with serving([Job(load_profile(prof))], Users.load(users)) as url:
        victor, _ = logged_in(url, "victor")
        html = victor.get(url + "/profiles/erp", timeout=10).text
        m = re.search(r'<table id="sftp">.*?</table>', html, re.S)
        assert m, html
        cells = re.findall(r"<tr><td>source</td><td>([^<]+)</td><td>([^<]+)</td><td><span "
                           r'class="bad">([^<]+)</span></td><td>-</td></tr>', m.group(0))
        assert len(cells) == 1, m.group(0)
        address, pinned, since = cells[0]
        assert address == f"erp@127.0.0.1:{port}"
        assert pinned == f"ecdsa-sha2-nistp256 {host_key.fingerprint}"
        assert pinned.split()[1].startswith("SHA256:")
        failing = datetime.strptime(since, "%Y-%m-%d %H:%M:%S").timestamp()
        assert before - 1 <= failing <= time.time()
        assert password not in html and "SFTP_PW" not in html
        # another server, nothing pinned: said so, with what to run
        kh.write_text("", encoding="utf-8")
        html = victor.get(url + "/profiles/erp", timeout=10).text
        assert "none pinned in" in html and "filebridge trust" in html
