"""The console in a real headless Chromium (Debian's ``chromium`` package, installed by
scripts/test.sh, driven by Playwright's Python client; no browser is downloaded).

``filebridge serve --users`` and ``filebridge watch`` run as the real processes over
the site of tests/console_site.py. An operator logs in, sees the runs, opens a file's
rejects, approves the held run (the watcher sends it), uploads a spreadsheet (preview,
then apply: the file lands in the inbox) and asks for a sync (recorded, then the
watcher, which would otherwise look again only in an hour, processes the file). A
viewer is refused the approval (403). Screenshots of the main pages are kept under
the test's tmp folder (screenshots/), and in $FILEBRIDGE_TEST_OUTPUT when set.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from console_site import LISTINO_ROWS, PASSWORDS, Site, build, spreadsheet
from playwright.sync_api import Page, expect, sync_playwright
from shops.woocommerce import WooServer
from test_console_http import free_port

from filebridge.ledger import SqliteLedger
from filebridge.ledger import console as q

CHROMIUM = "/usr/bin/chromium"


def until(check: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _start(args: list[str], site: Site, log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "filebridge", *args], cwd=site.root,
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen, log: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"did not stop on SIGTERM:\n{log.read_text()}") from None


@pytest.fixture
def running(workdir, cli_env) -> Iterator[tuple[Site, WooServer, str]]:
    with WooServer(key="ck_console", secret="cs_console") as woo:
        site = build(workdir, cli_env, woo.url)
        port = free_port()
        env = site.env | {"FILEBRIDGE_CONSOLE_USERS": str(site.users)}
        serve = _start(["serve", "profiles/stock.yaml", "profiles/listino.yaml", "--port",
                        str(port)], site, workdir / "serve.log", env)
        watch = _start(["watch", "profiles/stock.yaml", "profiles/listino.yaml"], site,
                       workdir / "watch.log", site.env)
        base = f"http://127.0.0.1:{port}"
        try:
            def up() -> bool:
                assert serve.poll() is None, (workdir / "serve.log").read_text()
                try:
                    return requests.get(base + "/login", timeout=1).status_code == 200
                except requests.ConnectionError:
                    return False
            until(up, 90, "filebridge serve")
            yield site, woo, base
        finally:
            _stop(serve, workdir / "serve.log")
            _stop(watch, workdir / "watch.log")


@pytest.fixture
def shots(tmp_path) -> Iterator[Callable[[Page, str], None]]:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    taken: list[Path] = []

    def shot(page: Page, name: str) -> None:
        path = folder / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5000  # a rendered page, not an empty image
        taken.append(path)

    yield shot
    out = os.environ.get("FILEBRIDGE_TEST_OUTPUT")
    if out:
        dest = Path(out) / "console-screenshots"
        dest.mkdir(parents=True, exist_ok=True)
        for p in taken:
            shutil.copy2(p, dest / p.name)


def log_in(page: Page, base: str, name: str) -> None:
    page.goto(base + "/")
    expect(page).to_have_url(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("main form button")
    expect(page).to_have_url(base + "/")


def test_an_operator_works_the_console_in_chromium(running, shots, tmp_path):
    site, woo, base = running
    ledger = SqliteLedger(site.root / "ledger.db")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            log_in(page, base, "alice")
            expect(page.locator("#profiles")).to_contain_text("holding run #")
            shots(page, "profiles")

            # a run and its file's rejects
            page.click("#profiles >> text=listino")
            expect(page.locator("#runs")).to_contain_text("failed")
            shots(page, "profile-listino")
            page.click("#files >> text=LISTINO_1.xlsx")
            expect(page.locator("#reject-count")).to_contain_text("2 of 2 lines")
            expect(page.locator("#rejects")).to_contain_text("price")
            shots(page, "rejects")
            page.select_option("select[name=field]", "sku")
            page.click("#filter >> text=Filter")
            expect(page.locator("#reject-count")).to_contain_text("1 of 2 lines")
            with page.expect_download() as dl:
                page.click("#download")
            got = Path(dl.value.path()).read_text(encoding="utf-8").splitlines()
            assert len(got) == 2 and got[1].startswith("4;sku;")

            # the held run: its plan, then Approve; the watcher sends it
            page.goto(base + "/profiles/stock")
            page.click("#held >> text=run #")
            expect(page.locator("#plan")).to_contain_text("zero 180")
            expect(page.locator("#diff")).to_contain_text("SKU00050")
            expect(page.locator("#diff")).to_contain_text("stock: 16 → 0")
            shots(page, "held-run")
            page.click("#approve")
            expect(page.locator("#message")).to_contain_text("181 changes released")
            until(lambda: not q.held(ledger, "stock") and
                  q.outbox(ledger, "stock")["woo"].get("queued", 0) == 0
                  and q.outbox(ledger, "stock")["woo"].get("sent", 0) >= 181 + 200 - 1,
                  60, "the watcher to send the approved changes")
            zeroed = [p for p in woo.shop.products.values() if p.get("stock_quantity") == 0]
            assert len(zeroed) >= 180

            # upload a spreadsheet: preview (rejects first), then apply
            sheet = spreadsheet(tmp_path / "LISTINO_2.xlsx", LISTINO_ROWS)
            page.goto(base + "/profiles/listino")
            page.set_input_files("input[name=file]", str(sheet))
            page.click("#upload")
            expect(page.locator("#verdict")).to_contain_text("5 rows read, 2 rejected")
            html = page.content()
            assert html.index('id="rejects"') < html.index('id="records"')
            shots(page, "upload-preview")
            inbox = site.root / "inbox/listino"
            assert not list(inbox.iterdir())
            page.click("#apply")
            expect(page.locator("#message")).to_contain_text("LISTINO_2.xlsx is in listino")
            assert (inbox / "LISTINO_2.xlsx").read_bytes() == sheet.read_bytes()
            time.sleep(3)  # the watcher polls this inbox hourly: the file waits
            assert (inbox / "LISTINO_2.xlsx").exists()

            # sync now: recorded by the web request, done by the watcher
            page.goto(base + "/profiles/listino")
            page.click("#sync")
            expect(page.locator("#message")).to_contain_text("Sync request #")
            [ask] = q.syncs(ledger, "listino")
            assert ask["asked_by"] == "alice"
            until(lambda: q.syncs(ledger, "listino")[0]["done"], 30, "the sync to be done")
            assert q.syncs(ledger, "listino")[0]["outcome"] == "done: LISTINO_2.xlsx done"
            assert not (inbox / "LISTINO_2.xlsx").exists()
            [f] = [f for f in q.files(ledger, "listino") if f["name"] == "LISTINO_2.xlsx"]
            assert f["status"] == "done" and f["tally"]["read"] == 5
            assert f["tally"]["rejected"] == 2 and f["tally"]["sent"] == 3
            assert (site.root / "outbox/listino/LISTINO_2.csv").is_file()
            page.goto(base + "/profiles/listino")
            expect(page.locator("#syncs")).to_contain_text("done: LISTINO_2.xlsx done")
            expect(page.locator("#files")).to_contain_text("LISTINO_2.xlsx")
            shots(page, "after-sync")
        finally:
            browser.close()
            ledger.close()


def test_a_viewer_cannot_approve_in_chromium(running, shots):
    site, woo, base = running
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            log_in(page, base, "victor")
            page.goto(base + f"/profiles/stock/runs/{site.held_run}")
            expect(page.locator("#plan")).to_contain_text("zero 180")
            assert page.locator("#approve").count() == 0
            assert page.locator("#sync").count() == 0
            shots(page, "viewer-held-run")
            assert "cs_console" not in page.content() and "ck_console" not in page.content()
            csrf = page.get_attribute("input[name=csrf]", "value")
            before = woo.requests
            r = page.request.post(base + f"/profiles/stock/runs/{site.held_run}/approve",
                                  form={"csrf": csrf or ""})
            assert r.status == 403 and "operators only" in r.text()
            # and no form without its token, whoever asks
            r = page.request.post(base + "/logout", form={})
            assert r.status == 403
        finally:
            browser.close()
        ledger = SqliteLedger(site.root / "ledger.db")
        try:
            assert [h["run"] for h in q.held(ledger, "stock")] == [site.held_run]
        finally:
            ledger.close()
        assert woo.requests == before
