"""The shops' order webhooks through ``filebridge serve`` (issue 16, "Seconds, not
hours"): real HTTP to the server in a subprocess, signed as the shops sign them
(filebridge/webhooks.py cites how). A sale on one shop reaches the other in
seconds; retries, late deliveries and the pull after them count nothing again; a
bad signature records nothing; no body reaches the log."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from conftest import write_profile
from shops.shopify import TOKEN, ShopifyServer
from shops.woocommerce import WooServer

from filebridge.ledger.sqlite import SqliteLedger
from filebridge.stock.inventory import Inventory
from filebridge.stock.spec import StockSpec
from filebridge.webhooks import FILE_AFTER, signature

WOO_SECRET, SHOP_SECRET = "woo-hook-secret", "shpss_hook_secret"
EMAIL = "jane.doe@example.com"  # personal data in a body: never in the log


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "filebridge", *args], cwd=cwd, env=env,
                       check=False, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(workdir, cli_env):
    """Two shops sharing one inventory (figures loaded), and ``filebridge serve``."""
    with WooServer(key="ck_p", secret="cs_p") as woo, \
            ShopifyServer(locations=("Magazzino", "Milano")) as shopify:
        for sku in ("A", "B"):
            woo.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                             "stock_quantity": 0})
            shopify.add_variant(sku, {"Magazzino": 0, "Milano": 0})
        (workdir / "woo.secret").write_text(WOO_SECRET + "\n")
        env = cli_env | {"WOO_URL": woo.url, "WOO_KEY": "ck_p", "WOO_SECRET": "cs_p",
                         "SHOP_URL": shopify.url, "SHOP_TOKEN": TOKEN,
                         "SHOP_HOOKS": SHOP_SECRET, "TZ": "UTC"}
        shopify_sink = {"format": "shopify_api", "url": "${SHOP_URL}", "token": "${SHOP_TOKEN}",
                        "sync": "stock", "limits": {"max_backoff": 0.05},
                        "webhook_secret": "${SHOP_HOOKS}"}
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
                       "consumer_secret": "${WOO_SECRET}", "limits": {"max_backoff": 0.05},
                       "webhook_secret": "file:../woo.secret"},
                      shopify_sink | {"id": "shopify-mag", "location": "Magazzino"},
                      shopify_sink | {"id": "shopify-mi", "location": "Milano"}],
            "ledger": "../ledger.db"}, "erp.yaml")
        (workdir / "inbox" / "erp").mkdir()
        (workdir / "inbox" / "erp" / "DISPO_20261128_0200.csv").write_text(
            "SKU;WH;QTY\nA;MAG;5\nA;MI;2\nB;MAG;3\n")
        cli("run", "profiles/erp.yaml", cwd=workdir, env=env)
        port = free_port()
        log = (workdir / "serve.log").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "filebridge", "serve",
                                 "profiles/erp.yaml", "--port", str(port)], cwd=workdir,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90  # a loaded machine imports slowly
            while True:
                try:
                    requests.post(base + "/hooks/erp/nothing", timeout=1)
                    break
                except requests.ConnectionError:
                    assert proc.poll() is None, (workdir / "serve.log").read_text()
                    assert time.monotonic() < deadline, "serve did not start"
                    time.sleep(0.1)
            yield woo, shopify, env, base
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError("serve did not stop on SIGTERM:\n"
                                     + (workdir / "serve.log").read_text()) from None
            finally:
                log.close()


def woo_body(woo: WooServer, oid: int) -> bytes:
    """What WooCommerce posts: the REST API's order (build_payload), with the
    customer's data as the real one has it."""
    o = requests.get(f"{woo.url}/wp-json/wc/v3/orders/{oid}", auth=("ck_p", "cs_p"),
                     timeout=10).json()
    o["billing"] = {"first_name": "Jane", "last_name": "Doe", "email": EMAIL}
    return json.dumps(o).encode()


def to_woo(base: str, body: bytes, topic: str = "order.updated", secret: str | None = WOO_SECRET
           ) -> requests.Response:
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic,
               "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": topic.split(".")[1]}
    if secret is not None:
        headers["X-WC-Webhook-Signature"] = signature(secret, body)
    return requests.post(base + "/hooks/erp/woo", data=body, headers=headers, timeout=10)


def to_shopify(base: str, gid: str, topic: str = "orders/create", sink: str = "shopify-mag"
               ) -> requests.Response:
    """A Shopify order webhook: the REST shape (only the order's id is relied on);
    refunds/create carries the refund, naming its order in ``order_id``."""
    n = int(gid.rsplit("/", 1)[1])
    body = json.dumps({"id": n, "admin_graphql_api_id": gid, "email": EMAIL,
                       "line_items": []} if topic != "refunds/create" else {
        "id": 900 + n, "admin_graphql_api_id": f"gid://shopify/Refund/{900 + n}",
        "order_id": n, "refund_line_items": []}).encode()
    return requests.post(base + f"/hooks/erp/{sink}", data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature(SHOP_SECRET, body)})


def moves(workdir: Path) -> list[tuple[str, str, str, int]]:
    inv = Inventory(SqliteLedger(workdir / "ledger.db"),
                    StockSpec.model_validate({"inventory": "shared", "role": "acks"}))
    return sorted((m.source, m.kind, m.sku, m.qty) for m in inv.movements())


def until(check: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds until ``check()`` holds; fails after ``timeout``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, "not within the time"
        time.sleep(0.05)
    return time.monotonic() - start


def test_a_woocommerce_sale_reaches_shopify_in_seconds_and_counts_once(workdir, served):
    woo, shopify, env, base = served
    assert (woo.stock("A"), shopify.stock("A", "Magazzino")) == (7, 5)
    oid = woo.add_order([("A", 2)])
    created = woo_body(woo, oid)
    sent = time.monotonic()
    r = to_woo(base, created, "order.created")
    assert r.status_code == 200, r.text
    assert time.monotonic() - sent < 5  # answered well within what shops wait for
    assert until(lambda: shopify.stock("A", "Magazzino") == 3) < 5
    assert woo.stock("A") == 5  # the shop took its own 2; the push sets the same 5
    assert moves(workdir) == [("web:woo", "sale", "A", -2)]

    # Retried twice; then cancelled; then the created one again, late.
    for _ in range(2):
        assert to_woo(base, created, "order.created").status_code == 200
    woo.set_status(oid, "cancelled", at=time.time() + 5)
    assert to_woo(base, woo_body(woo, oid)).status_code == 200
    until(lambda: shopify.stock("A", "Magazzino") == 5)
    assert to_woo(base, created, "order.created").status_code == 200
    assert moves(workdir) == [("web:woo", "cancel", "A", 2),
                              ("web:woo", "sale", "A", -2)]
    # The scheduled pull after the webhooks finds nothing new.
    fed = cli("feedback", "profiles/erp.yaml", cwd=workdir, env=env)
    assert "0 new movements" in fed.stdout, fed.stdout
    assert len(moves(workdir)) == 2
    assert (woo.stock("A"), shopify.stock("A", "Magazzino"), shopify.stock("A", "Milano")) \
        == (7, 5, 2)
    log = (workdir / "serve.log").read_text()
    assert "webhook order.updated, order" in log  # it does say what it did
    assert EMAIL not in log and "Jane" not in log and "line_items" not in log


def test_a_shopify_sale_reaches_woocommerce_and_any_location_sink_is_one_shop(workdir, served):
    woo, shopify, env, base = served
    gid = shopify.add_order([("B", 2)], location="Magazzino")
    assert to_shopify(base, gid).status_code == 200
    assert until(lambda: woo.stock("B") == 1) < 5
    # The same order told to the other location's endpoint, and again as updated:
    # one shop, one set of orders, recorded under the first sink as a pull does.
    assert to_shopify(base, gid, "orders/updated", sink="shopify-mi").status_code == 200
    assert to_shopify(base, gid, "orders/updated").status_code == 200
    assert moves(workdir) == [("web:shopify-mag", "sale", "B", -2)]
    shopify.refund(gid, {"B": 1}, at=time.time() + 5, restock_type="RETURN")
    assert to_shopify(base, gid, "refunds/create").status_code == 200
    until(lambda: woo.stock("B") == 2)
    r = cli("feedback", "profiles/erp.yaml", cwd=workdir, env=env)
    assert "0 new movements" in r.stdout, r.stdout
    assert [m[1:] for m in moves(workdir)] == [("refund", "B", 1), ("sale", "B", -2)]
    assert (woo.stock("B"), shopify.stock("B", "Magazzino")) == (2, 2)


def test_a_bad_or_missing_signature_is_401_and_records_nothing(workdir, served):
    woo, shopify, _, base = served
    oid = woo.add_order([("A", 1)])
    body = woo_body(woo, oid)
    assert to_woo(base, body, secret=None).status_code == 401
    assert to_woo(base, body, secret="not-the-secret").status_code == 401
    # Signed, then changed on the way: the signature is over the raw bytes.
    headers = {"X-WC-Webhook-Topic": "order.created",
               "X-WC-Webhook-Signature": signature(WOO_SECRET, body)}
    r = requests.post(base + "/hooks/erp/woo", data=body.replace(b'"A"', b'"B"'),
                      headers=headers, timeout=10)
    assert r.status_code == 401
    gid = shopify.add_order([("B", 1)], location="Magazzino")
    forged = json.dumps({"admin_graphql_api_id": gid}).encode()
    r = requests.post(base + "/hooks/erp/shopify-mag", data=forged, timeout=10, headers={
        "X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": signature(WOO_SECRET,
                                                                              forged)})
    assert r.status_code == 401
    assert requests.post(base + "/hooks/erp/nowhere", data=b"{}", timeout=10).status_code \
        == 404
    # WooCommerce's activation ping is unsigned: 200, nothing recorded.
    assert requests.post(base + "/hooks/erp/woo", data=b"webhook_id=12",
                         timeout=10).status_code == 200
    time.sleep(0.5)
    assert moves(workdir) == []
    assert shopify.stock("A", "Magazzino") == 5 and woo.stock("B") == 3
    log = (workdir / "serve.log").read_text()
    assert "webhook refused: bad signature" in log and "webhook refused: no signature" in log
    assert EMAIL not in log and gid not in log


def test_a_late_state_older_than_the_recorded_one_is_not_applied(tmp_path):
    """The ledger's side of out-of-order deliveries: a line is not set back."""
    from filebridge.orders.base import OrderLine

    inv = Inventory(SqliteLedger(tmp_path / "l.db"),
                    StockSpec.model_validate({"inventory": "x", "sku": "S", "quantity": "Q"}))
    line = OrderLine("1", "10", "A", 2, "processing", at=100.0, changed=100.0)
    assert inv.record_orders("web:w", [line]) == 1
    cancelled = OrderLine("1", "10", "A", 0, "cancelled", at=100.0, changed=200.0)
    assert inv.record_orders("web:w", [cancelled]) == 1
    assert inv.record_orders("web:w", [line]) == 0  # the older state, delivered late
    assert inv.order_changed("web:w", "1") == 200.0
    assert [m.qty for m in inv.movements()] == [-2, 2]
    assert os.path.exists(tmp_path / "l.db")


def test_two_woocommerce_changes_in_one_second_delivered_backwards(workdir, served):
    """WooCommerce's modification time has whole seconds: the older of two changes
    in the same second, delivered last, looks as new as the recorded one. It is
    read again from the shop instead of trusted."""
    woo, shopify, env, base = served
    now = float(int(time.time()))
    oid = woo.add_order([("A", 2)], created=now, modified=now)
    placed = woo_body(woo, oid)
    woo.refund(oid, {"A": 1}, at=now, restock=True)  # the same second
    refunded = woo_body(woo, oid)
    assert json.loads(placed)["date_modified_gmt"] == json.loads(refunded)["date_modified_gmt"]
    assert to_woo(base, refunded).status_code == 200
    assert to_woo(base, placed, "order.created").status_code == 200
    assert moves(workdir) == [("web:woo", "sale", "A", -1)]
    until(lambda: shopify.stock("A", "Magazzino") == 4)
    r = cli("feedback", "profiles/erp.yaml", cwd=workdir, env=env)
    assert "0 new movements" in r.stdout, r.stdout


def erp_files(workdir: Path) -> dict[str, list[dict[str, str]]]:
    """The movement files published for the ERP (written complete, then renamed into
    place), name -> rows."""
    out = {}
    for f in sorted((workdir / "outbox").glob("MOV*.csv")):
        with f.open(newline="", encoding="utf-8") as fh:
            out[f.name] = list(csv.DictReader(fh, delimiter=";"))
    return out


def erp_rows(workdir: Path) -> list[dict[str, str]]:
    return [r for rows in erp_files(workdir).values() for r in rows]


def every_movement_once(workdir: Path) -> None:
    """Each movement of the ledger is in exactly one published file, the files are
    numbered 1..n without a gap, and nothing is left for a next file."""
    files = erp_files(workdir)
    assert sorted(files) == [f"MOV{i:04d}.csv" for i in range(1, len(files) + 1)]
    assert all(files.values()), "a movement file with no movement"
    ids = [r["id"] for r in erp_rows(workdir)]
    inv = Inventory(SqliteLedger(workdir / "ledger.db"),
                    StockSpec.model_validate({"inventory": "shared", "role": "acks"}))
    assert sorted(map(int, ids)) == sorted(m.id for m in inv.movements())
    assert len(ids) == len(set(ids))
    assert inv.unexported() == []


def test_a_webhook_sale_reaches_the_erp_movement_file_in_seconds(workdir, served):
    """Issue 16: "a web sale on shop A reaches shop B and the ERP movement file
    within 5 s by webhook"; a burst of webhooks makes one file, not one per order."""
    woo, _, env, base = served
    oid = woo.add_order([("A", 2)])
    created = woo_body(woo, oid)
    sent = time.monotonic()
    assert to_woo(base, created, "order.created").status_code == 200

    def in_file(order: int) -> bool:
        return any(r["order"] == str(order) for r in erp_rows(workdir))

    took = until(lambda: in_file(oid), 5)
    assert took < 5 and time.monotonic() - sent < 5
    assert [(r["seq"], r["kind"], r["sku"], r["qty"]) for r in erp_rows(workdir)] == \
        [("1", "sale", "A", "-2")]
    # A burst: five orders' webhooks one after the other.
    burst = [woo.add_order([("B" if i % 2 else "A", 1)]) for i in range(5)]
    bodies = [woo_body(woo, o) for o in burst]
    start = time.monotonic()
    for b in bodies:
        assert to_woo(base, b, "order.created").status_code == 200
    posted_in = time.monotonic() - start
    until(lambda: all(in_file(o) for o in burst), 5)
    time.sleep(FILE_AFTER + 0.5)  # no stray file after the last one
    new = [n for n in erp_files(workdir) if n != "MOV0001.csv"]
    if posted_in < FILE_AFTER:  # all five inside the first one's wait: one file
        assert new == ["MOV0002.csv"], (posted_in, new)
    else:  # a slow machine: still one file per FILE_AFTER, not one per order
        assert len(new) <= posted_in / FILE_AFTER + 1, (posted_in, new)
    every_movement_once(workdir)
    # The pull after them finds nothing; its file run writes nothing new.
    r = cli("feedback", "profiles/erp.yaml", cwd=workdir, env=env)
    assert "0 new movements" in r.stdout and "movements file" not in r.stdout, r.stdout
    every_movement_once(workdir)


def test_serve_and_the_scheduled_pull_writing_at_once_neither_repeat_nor_skip(workdir,
                                                                              served):
    """Webhooks recorded and written by ``serve`` while ``filebridge feedback`` (the
    watcher's scheduled pull and file) runs again and again over the same ledger:
    every order line becomes one movement in exactly one file."""
    woo, _, env, base = served
    stop = threading.Event()
    runs: list[str] = []

    def scheduled() -> None:
        while not stop.is_set():
            runs.append(cli("feedback", "profiles/erp.yaml", cwd=workdir, env=env).stdout)

    t = threading.Thread(target=scheduled)
    t.start()
    orders = []
    try:
        for i in range(12):
            oid = woo.add_order([("A" if i % 3 else "B", 1)])
            orders.append(oid)
            if i % 4 != 3:  # every fourth order has no webhook: the pull catches it
                assert to_woo(base, woo_body(woo, oid), "order.created").status_code == 200
            time.sleep(0.2)
        after = len(runs)
        until(lambda: len(runs) >= after + 2, 90)  # one pull began after the last order
    finally:
        stop.set()
        t.join(timeout=120)
    until(lambda: {r["order"] for r in erp_rows(workdir)} >= {str(o) for o in orders}, 10)
    time.sleep(FILE_AFTER + 0.5)
    assert sorted(int(r["order"]) for r in erp_rows(workdir)) == sorted(orders)
    assert [(r["kind"], r["qty"]) for r in erp_rows(workdir)] == [("sale", "-1")] * 12
    every_movement_once(workdir)
    # Who wrote which file depends on the timing; that both did is likely, not sure.
    assert len(runs) >= 3 and len(erp_files(workdir)) >= 2


def test_a_shopify_cancel_without_restock_keeps_the_sale(workdir, served):
    """orderCancel(restock: false): Shopify keeps the units out of its own stock, so
    the other shop keeps the lower figure and the ERP gets no return; with restock
    the units come back everywhere and the ERP gets the cancellation. By webhook,
    then by the pull alone."""
    woo, shopify, env, base = served
    assert (woo.stock("B"), shopify.stock("B", "Magazzino")) == (3, 3)
    kept = shopify.add_order([("B", 2)], location="Magazzino")
    assert to_shopify(base, kept).status_code == 200
    until(lambda: woo.stock("B") == 1)
    shopify.cancel(kept, at=time.time() + 5, restock=False)
    assert to_shopify(base, kept, "orders/cancelled").status_code == 200
    back = shopify.add_order([("B", 1)], location="Magazzino")
    assert to_shopify(base, back).status_code == 200
    until(lambda: woo.stock("B") == 0)
    shopify.cancel(back, at=time.time() + 5, restock=True)
    assert to_shopify(base, back, "orders/cancelled").status_code == 200
    until(lambda: woo.stock("B") == 1)
    # Both shops are told, in either order, and a push of the figure before the cancel
    # may reach Shopify after its own restock: wait for the last word.
    until(lambda: shopify.stock("B", "Magazzino") == 1)  # 3 - 2 kept by the customer
    until(lambda: len(erp_rows(workdir)) == 3)
    assert sorted((r["order"], r["kind"], r["qty"]) for r in erp_rows(workdir)) == sorted(
        [(kept, "sale", "-2"), (back, "sale", "-1"), (back, "cancel", "1")])
    # The pull alone: a cancel without restock it sees only afterwards.
    late = shopify.add_order([("B", 1)], location="Magazzino")
    shopify.cancel(late, at=time.time() + 5, restock=False)
    assert shopify.stock("B", "Magazzino") == 0
    r = cli("feedback", "profiles/erp.yaml", cwd=workdir, env=env)
    assert "1 new movements" in r.stdout, r.stdout
    assert (woo.stock("B"), shopify.stock("B", "Magazzino")) == (0, 0)
    assert sorted((r["order"], r["kind"], r["qty"]) for r in erp_rows(workdir)
                  if r["order"] == late) == [(late, "sale", "-1")]
    assert not any(r["kind"] == "cancel" and r["order"] in (kept, late)
                   for r in erp_rows(workdir))
    every_movement_once(workdir)


def test_two_writers_with_the_same_unexported_movements_never_put_one_in_two_files(tmp_path):
    """The ledger's side of serve and watch at once: a movement already tied to a
    file is not tied to another, even by a writer that read it as unexported
    before (one whose lease ran out); the second file counts what it got."""
    from filebridge.orders.base import OrderLine

    inv = Inventory(SqliteLedger(tmp_path / "l.db"),
                    StockSpec.model_validate({"inventory": "x", "sku": "S", "quantity": "Q"}))
    inv.record_orders("web:w", [OrderLine("1", "10", "A", 2, "processing", 100.0, 100.0)])
    seen_by_both = [m.id for m in inv.unexported()]
    first, _ = inv.export(seen_by_both, lambda seq, now: f"MOV{seq}.csv")
    inv.record_orders("web:w", [OrderLine("2", "20", "B", 1, "processing", 101.0, 101.0)])
    second, _ = inv.export(seen_by_both + [m.id for m in inv.unexported()],
                           lambda seq, now: f"MOV{seq}.csv")
    assert [m.sku for m in inv.file_movements(first)] == ["A"]
    assert [m.sku for m in inv.file_movements(second)] == ["B"]
    assert inv.rows.counts()["awaiting_ack"] == 2 and inv.unexported() == []


def test_a_page_read_before_a_webhook_of_the_same_second_does_not_take_the_sale_back(
        tmp_path, monkeypatch):
    """The pull's side of whole-second change times: a page read while the order was
    pending, recorded after a webhook recorded it processing in the same second,
    looks as new as that state. It is read again from the shop, not applied."""
    from filebridge.orders.woocommerce import WooOrders
    from filebridge.sinks.api.woocommerce import WooOptions
    from filebridge.stock.jobs import _ties_read_again

    monkeypatch.setenv("WC_KEY", "ck_p")
    monkeypatch.setenv("WC_SECRET", "cs_p")
    inv = Inventory(SqliteLedger(tmp_path / "l.db"),
                    StockSpec.model_validate({"inventory": "x", "sku": "S", "quantity": "Q"}))
    with WooServer(key="ck_p", secret="cs_p") as woo:
        woo.shop.create({"sku": "A", "name": "A", "manage_stock": True, "stock_quantity": 9})
        puller = WooOrders(WooOptions.model_validate({
            "url": woo.url, "consumer_key": "${WC_KEY}", "consumer_secret": "${WC_SECRET}",
            "limits": {"max_backoff": 0.05}}))
        s = float(int(time.time()))
        oid = woo.add_order([("A", 2)], status="pending", created=s, modified=s)
        page = puller.convert(requests.get(f"{woo.url}/wp-json/wc/v3/orders/{oid}",
                                           auth=("ck_p", "cs_p"), timeout=10).json())
        woo.set_status(oid, "processing", at=s)  # the same second
        assert inv.record_orders("web:woo", puller.order(str(oid)) or []) == 1  # the webhook
        assert [ln.qty for ln in page] == [0] and page[0].changed == s  # the stale page
        again = _ties_read_again(inv, "web:woo", puller, page)
        assert [ln.qty for ln in again] == [2]
        assert inv.record_orders("web:woo", again) == 0
        assert [(m.kind, m.qty) for m in inv.movements()] == [("sale", -2)]
        puller.close()
