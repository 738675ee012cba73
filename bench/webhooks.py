"""Order webhooks at pace, printed, not asserted: two loopback shops (tests/shops)
sharing one inventory, WooCommerce as shop A, Shopify as shop B, and ``filebridge
serve`` in its own process.

1. Latency: one sale at a time on A, its ``order.created`` webhook sent, the time
   until B shows the new figure (webhook answered, order recorded, B told).
2. Sustained: ORDERS orders of 1-3 lines on SKUS SKUs posted by SENDERS threads as
   fast as the server answers, with every 10th delivery sent twice and every 20th
   order's update delivered before its creation (out of order); then the time until
   every push has landed. Checked: the ledger holds exactly one sale movement per
   order line with the line's units (0 lost, 0 doubled), the pull afterwards counts
   nothing, and B shows figure minus units sold for every SKU.

    .venv/bin/python bench/webhooks.py --orders 2000 --senders 4
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

SECRET = "bench-hook-secret"
FIGURE = 100_000  # units per SKU at the web warehouse: never sold out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--skus", type=int, default=200)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--latency-samples", type=int, default=20)
    args = ap.parse_args()

    from shops.shopify import TOKEN, ShopifyServer
    from shops.woocommerce import WooServer

    from filebridge.ledger.sqlite import SqliteLedger
    from filebridge.stock import Inventory
    from filebridge.stock_spec import StockSpec
    from filebridge.webhooks import signature

    work = Path(tempfile.mkdtemp(prefix="fb-webhooks-bench-"))
    skus = [f"S{i:05d}" for i in range(args.skus)]
    with WooServer(key="ck", secret="cs") as woo, ShopifyServer(locations=("Web",)) as shop:
        for sku in skus:
            woo.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                             "stock_quantity": 0})
            shop.add_variant(sku, {"Web": 0})
        (work / "inbox").mkdir()
        (work / "inbox" / "DISPO_20261128_0200.csv").write_text(
            "SKU;QTY\n" + "".join(f"{s};{FIGURE}\n" for s in skus))
        limits = {"max_backoff": 0.05}
        (work / "p.yaml").write_text(json.dumps({
            "name": "bench", "ledger": "ledger.db",
            "source": {"kind": "local", "path": "inbox", "pattern": ["*.csv"],
                       "ready": {"stable_for": "0s"}},
            "read": {"format": "csv", "delimiter": ";", "fields": {"QTY": {"type": "integer"}}},
            "map": {"key": "sku"},
            "stock": {"inventory": "shared", "sku": "SKU", "quantity": "QTY",
                      "as_of": {"name": r"DISPO_(\d{8}_\d{4})", "timezone": "UTC"}},
            "write": [{"id": "woo", "format": "woocommerce_api", "url": woo.url,
                       "sync": "stock", "consumer_key": "${WOO_KEY}",
                       "consumer_secret": "${WOO_SECRET}", "limits": limits,
                       "webhook_secret": "${HOOKS}"},
                      {"id": "shopify", "format": "shopify_api", "url": shop.url,
                       "token": "${SHOP_TOKEN}", "sync": "stock", "limits": limits}]}))
        import os

        env = dict(os.environ, WOO_KEY="ck", WOO_SECRET="cs", SHOP_TOKEN=TOKEN, HOOKS=SECRET,
                   TZ="UTC")
        fb = [sys.executable, "-m", "filebridge"]
        subprocess.run([*fb, "run", "p.yaml"], cwd=work, env=env, check=True,
                       capture_output=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = (work / "serve.log").open("w")
        proc = subprocess.Popen([*fb, "serve", "p.yaml", "--port", str(port)], cwd=work,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/hooks/bench/woo"
        http = requests.Session()
        while True:
            try:
                http.post(url, data=b"webhook_id=1", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)

        def body(oid: int) -> bytes:
            return json.dumps(http.get(f"{woo.url}/wp-json/wc/v3/orders/{oid}",
                                       auth=("ck", "cs"), timeout=30).json()).encode()

        def post(data: bytes, topic: str, session: requests.Session) -> None:
            r = session.post(url, data=data, timeout=30, headers={
                "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Signature": signature(SECRET, data)})
            if r.status_code != 200:
                raise SystemExit(f"webhook answered {r.status_code}: {r.text}")

        def until(check: object, timeout: float = 600) -> float:
            start = time.monotonic()
            while not check():  # type: ignore[operator]
                if time.monotonic() - start > timeout:
                    raise SystemExit("timed out")
                time.sleep(0.01)
            return time.monotonic() - start

        try:
            sold: Counter[str] = Counter()
            rnd = random.Random(1)
            # 1. latency, one sale at a time
            answers, lat = [], []
            for i in range(args.latency_samples):
                sku = skus[i % len(skus)]
                oid = woo.add_order([(sku, 1)])
                sold[sku] += 1
                data = body(oid)
                t0 = time.monotonic()
                post(data, "order.created", http)
                answers.append(time.monotonic() - t0)
                want = FIGURE - sold[sku]
                lat.append(time.monotonic() - t0 + until(lambda s=sku, w=want:
                                                         shop.stock(s, "Web") == w, 30))
            # 2. sustained: orders placed first, their webhooks then timed
            orders: list[tuple[int, bytes, bytes | None]] = []
            lines_sent = 0
            for i in range(args.orders):
                lines = [(sku, rnd.randint(1, 3)) for sku in rnd.sample(skus, rnd.randint(1, 3))]
                oid = woo.add_order(lines, status="pending")  # pending: no stock yet
                created = body(oid)
                woo.set_status(oid, "processing")
                update = body(oid)
                if i % 20 == 0:  # the update delivered first, the creation late
                    created, update = update, created
                orders.append((oid, created, update))
                for sku, q in lines:
                    sold[sku] += q
                lines_sent += len(lines)
            queue = list(enumerate(orders))
            lock = threading.Lock()
            posted = Counter[str]()

            def sender() -> None:
                s = requests.Session()
                while True:
                    with lock:
                        if not queue:
                            return
                        i, (_, first, second) = queue.pop()
                    post(first, "order.created", s)
                    post(second, "order.updated", s)  # type: ignore[arg-type]
                    n = 2
                    if i % 10 == 0:  # a retry
                        post(second, "order.updated", s)  # type: ignore[arg-type]
                        n += 1
                    with lock:
                        posted["deliveries"] += n

            t0 = time.monotonic()
            threads = [threading.Thread(target=sender) for _ in range(args.senders)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            answered = time.monotonic() - t0
            landed = answered + until(lambda: all(shop.stock(s, "Web") == FIGURE - sold[s]
                                                  for s in skus))
            inv = Inventory(SqliteLedger(work / "ledger.db"),
                            StockSpec.model_validate({"inventory": "shared", "role": "acks"}))
            moves = inv.movements()
            per_line = Counter((m.order, m.line) for m in moves)
            units = Counter()
            for m in moves:
                units[m.sku] -= m.qty
            from filebridge.pipeline import Job
            from filebridge.profile import load_profile

            os.environ.update({k: env[k] for k in ("WOO_KEY", "WOO_SECRET", "SHOP_TOKEN",
                                                   "HOOKS")})
            job = Job(load_profile(work / "p.yaml"))
            again = job.pull_orders()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            log.close()
    lines_total = lines_sent + args.latency_samples
    print(f"latency, {args.latency_samples} single sales: webhook answered median "
          f"{statistics.median(answers) * 1000:.0f} ms (max {max(answers) * 1000:.0f}); "
          f"sale on A to figure on B median {statistics.median(lat) * 1000:.0f} ms, "
          f"max {max(lat) * 1000:.0f} ms")
    print(f"sustained: {args.orders} orders ({lines_sent} lines, {posted['deliveries']} "
          f"deliveries incl. retries and late ones) by {args.senders} senders: all answered "
          f"in {answered:.1f} s, every figure on B in {landed:.1f} s = "
          f"{args.orders / landed * 3600:,.0f} orders/hour")
    print(f"movements: {len(moves)} for {lines_total} order lines; lines with more than one: "
          f"{sum(1 for n in per_line.values() if n > 1)}; SKUs whose units differ from "
          f"those sold: {sum(1 for s in skus if units[s] != sold[s])}; "
          f"the pull afterwards: {again} movements")
    print(f"log lines holding a body: "
          f"{sum(1 for ln in (work / 'serve.log').read_text().splitlines() if 'line_items' in ln)}")


if __name__ == "__main__":
    main()
