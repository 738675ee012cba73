"""Order webhooks at pace, printed, not asserted: two loopback shops (tests/shops)
sharing one inventory, WooCommerce as shop A, Shopify as shop B, ``filebridge
serve`` in its own process, movement files for the ERP (``stock.feedback``, which
follow the orders: no feedback schedule of their own).

1. Latency: one sale at a time on A, its ``order.created`` webhook sent, the time
   until B shows the new figure (webhook answered, order recorded, B told) and
   until the sale's line is in a published movement file for the ERP.
2. Sustained, webhooks and the pull's catch-up together: ``filebridge watch`` runs
   beside ``serve`` on the same profile and ledger, pulling the orders every
   PULL_EVERY seconds (and writing its movement file after each pull, as the
   profile's timetable says). SENDERS threads place ORDERS orders of 1-3 lines on
   SKUS SKUs on A, at RATE orders an hour (0: as fast as the server answers), each
   created ``pending`` then set ``processing`` and told by two webhooks; every 10th
   update is delivered twice (a retry), every 20th order's update before its
   creation (out of order), and every LOST_EVERYth order gets no webhook at all
   (the pull must catch it). At the end, counted from the published movement files
   against the orders placed: one line per order line with its units (0 lost,
   0 doubled), file numbers without a gap, nothing left unexported in the ledger,
   B showing figure minus units sold for every SKU; and the time from each order's
   first webhook to its line being in a published file.

    .venv/bin/python bench/webhooks.py --orders 2000 --senders 4
    .venv/bin/python bench/webhooks.py --orders 900 --rate 10000   # ~5.4 minutes paced
"""

from __future__ import annotations

import argparse
import csv
import json
import os
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


class Files:
    """The published movement files, scanned as they appear: when each order was
    first seen in one, and every row."""

    def __init__(self, folder: Path):
        self.folder, self.seen, self.rows = folder, set[str](), list[dict[str, str]]()
        self.first: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            self.scan()
            time.sleep(0.01)

    def scan(self) -> None:
        # A file is renamed into place complete (filebridge/outputs.py): what is
        # there is published.
        for f in sorted(self.folder.glob("MOV*.csv")):
            if f.name in self.seen:
                continue
            now = time.monotonic()
            with f.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh, delimiter=";"))
            with self.lock:
                self.seen.add(f.name)
                self.rows += rows
                for r in rows:
                    self.first.setdefault(r["order"], now)

    def has(self, order: int) -> bool:
        with self.lock:
            return str(order) in self.first

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.scan()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--skus", type=int, default=200)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--rate", type=float, default=0, help="orders an hour; 0: flat out")
    ap.add_argument("--lost-every", type=int, default=25)
    ap.add_argument("--pull-every", type=int, default=10, help="seconds")
    ap.add_argument("--latency-samples", type=int, default=20)
    args = ap.parse_args()

    from shops.shopify import TOKEN, ShopifyServer
    from shops.woocommerce import WooServer

    from filebridge.ledger.sqlite import SqliteLedger
    from filebridge.stock.inventory import Inventory
    from filebridge.stock.spec import StockSpec
    from filebridge.webhooks import signature

    work = Path(tempfile.mkdtemp(prefix="fb-webhooks-bench-"))
    skus = [f"S{i:05d}" for i in range(args.skus)]
    with WooServer(key="ck", secret="cs") as woo, ShopifyServer(locations=("Web",)) as shop:
        for sku in skus:
            woo.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                             "stock_quantity": 0})
            shop.add_variant(sku, {"Web": 0})
        (work / "inbox").mkdir()
        (work / "outbox").mkdir()
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
                      "as_of": {"name": r"DISPO_(\d{8}_\d{4})", "timezone": "UTC"},
                      "feedback": {"path": "outbox/MOV{seq:06d}.csv",
                                   "columns": ["seq", "id", "kind", "order", "line", "sku",
                                               "qty"]},
                      "schedule": {"orders": {"every": f"{args.pull_every}s"}}},
            "write": [{"id": "woo", "format": "woocommerce_api", "url": woo.url,
                       "sync": "stock", "consumer_key": "${WOO_KEY}",
                       "consumer_secret": "${WOO_SECRET}", "limits": limits,
                       "webhook_secret": "${HOOKS}"},
                      {"id": "shopify", "format": "shopify_api", "url": shop.url,
                       "token": "${SHOP_TOKEN}", "sync": "stock", "limits": limits}]}))
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
        watcher: subprocess.Popen[bytes] | None = None
        wlog = (work / "watch.log").open("w")
        url = f"http://127.0.0.1:{port}/hooks/bench/woo"
        http = requests.Session()
        while True:
            try:
                http.post(url, data=b"webhook_id=1", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)

        def body(oid: int, session: requests.Session = http) -> bytes:
            return json.dumps(session.get(f"{woo.url}/wp-json/wc/v3/orders/{oid}",
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

        files = Files(work / "outbox")
        try:
            sold: Counter[str] = Counter()
            placed: dict[str, Counter[str]] = {}  # order -> sku -> units
            # 1. latency, one sale at a time, webhooks only
            answers, lat, to_file = [], [], []
            for i in range(args.latency_samples):
                sku = skus[i % len(skus)]
                oid = woo.add_order([(sku, 1)])
                sold[sku] += 1
                placed[str(oid)] = Counter({sku: 1})
                data = body(oid)
                t0 = time.monotonic()
                post(data, "order.created", http)
                answers.append(time.monotonic() - t0)
                want = FIGURE - sold[sku]
                lat.append(time.monotonic() - t0 + until(lambda s=sku, w=want:
                                                         shop.stock(s, "Web") == w, 30))
                to_file.append(time.monotonic() - t0 + until(lambda o=oid: files.has(o), 30))
            # 2. sustained, the watcher's pull beside the webhooks
            watcher = subprocess.Popen([*fb, "watch", "p.yaml"], cwd=work, env=env,
                                       stdout=wlog, stderr=subprocess.STDOUT)
            lock = threading.Lock()
            queue = list(range(args.orders))[::-1]
            posted: Counter[str] = Counter()
            first_post: dict[str, float] = {}
            lost_at: dict[str, float] = {}
            lines_sent = 0
            t0 = time.monotonic()

            def sender(seed: int) -> None:
                nonlocal lines_sent
                s = requests.Session()
                r = random.Random(seed)
                while True:
                    with lock:
                        if not queue:
                            return
                        i = queue.pop()
                    if args.rate:
                        time.sleep(max(0.0, t0 + i * 3600 / args.rate - time.monotonic()))
                    lines = [(sku, r.randint(1, 3)) for sku in r.sample(skus, r.randint(1, 3))]
                    oid = woo.add_order(lines, status="pending")  # pending: no stock yet
                    created = body(oid, s)
                    woo.set_status(oid, "processing")
                    with lock:
                        placed[str(oid)] = Counter(dict(lines))
                        for sku, q in lines:
                            sold[sku] += q
                        lines_sent += len(lines)
                    if i % args.lost_every == 0:
                        with lock:  # no webhook: the pull catches it
                            posted["lost"] += 1
                            lost_at[str(oid)] = time.monotonic()
                        continue
                    update = body(oid, s)
                    first, second = (update, created) if i % 20 == 0 else (created, update)
                    with lock:
                        first_post[str(oid)] = time.monotonic()
                    post(first, "order.created", s)
                    post(second, "order.updated", s)
                    n = 2
                    if i % 10 == 0:  # a retry
                        post(second, "order.updated", s)
                        n += 1
                    with lock:
                        posted["deliveries"] += n

            threads = [threading.Thread(target=sender, args=(n,)) for n in range(args.senders)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            answered = time.monotonic() - t0
            landed = answered + until(lambda: all(shop.stock(s, "Web") == FIGURE - sold[s]
                                                  for s in skus))
            until(lambda: all(files.has(int(o)) for o in placed), args.pull_every * 3 + 60)
            in_files = time.monotonic() - t0
        finally:
            for p in (proc, watcher):
                if p is not None:
                    p.send_signal(signal.SIGTERM)
                    p.wait(timeout=120)
            log.close()
            wlog.close()
            files.close()
        inv = Inventory(SqliteLedger(work / "ledger.db"),
                        StockSpec.model_validate({"inventory": "shared", "role": "acks"}))
        moves = inv.movements()
        unexported = len(inv.unexported())
    # Counted from the files the ERP got, against the orders placed.
    per_line = Counter((r["order"], r["line"]) for r in files.rows)
    units: dict[str, Counter[str]] = {}
    for r in files.rows:
        units.setdefault(r["order"], Counter())[r["sku"]] -= int(r["qty"])
    wrong = sum(1 for o, want in placed.items() if units.get(o, Counter()) != want)
    seqs = sorted(int(n[3:9]) for n in files.seen)
    lines_total = lines_sent + args.latency_samples
    waits = [files.first[o] - t for o, t in first_post.items()]
    late = sorted(w for w in waits if w > 0)
    print(f"latency, {args.latency_samples} single sales: webhook answered median "
          f"{statistics.median(answers) * 1000:.0f} ms (max {max(answers) * 1000:.0f}); "
          f"sale on A to figure on B median {statistics.median(lat) * 1000:.0f} ms, "
          f"max {max(lat) * 1000:.0f} ms; to its line in a published movement file median "
          f"{statistics.median(to_file) * 1000:.0f} ms, max {max(to_file) * 1000:.0f} ms")
    rate = f"paced at {args.rate:,.0f}/hour" if args.rate else "flat out"
    print(f"sustained ({rate}), watch pulling every {args.pull_every} s beside serve: "
          f"{args.orders} orders ({lines_sent} lines, {posted['deliveries']} deliveries incl. "
          f"retries and late ones, {posted['lost']} orders without any webhook) by "
          f"{args.senders} senders: placed and answered in {answered:.1f} s = "
          f"{args.orders / answered * 3600:,.0f} orders/hour; every figure on B at "
          f"{landed:.1f} s, every order in a movement file at {in_files:.1f} s")
    print(f"first webhook to the line in a published movement file, {len(waits)} orders: "
          f"median {statistics.median(waits) * 1000:.0f} ms, worst {max(waits) * 1000:.0f} ms"
          f"; {len(waits) - len(late)} were in a file (by the pull) before their webhook")
    pulled = [files.first[o] - t for o, t in lost_at.items()]
    if pulled:
        print(f"orders without a webhook, placed to the line in a published movement file "
              f"(the pull every {args.pull_every} s), {len(pulled)} orders: median "
              f"{statistics.median(pulled):.1f} s, worst {max(pulled):.1f} s")
    print(f"movement files {len(seqs)} (numbers {seqs[0]}..{seqs[-1]}, gaps "
          f"{seqs[-1] - seqs[0] + 1 - len(seqs)}); lines in them {len(files.rows)} for "
          f"{lines_total} order lines; lines in more than one file or twice: "
          f"{sum(1 for n in per_line.values() if n > 1)}; orders whose units differ from those "
          f"placed (lost or doubled): {wrong} of {len(placed)}; ledger movements "
          f"{len(moves)}, unexported {unexported}")
    body_lines = sum(1 for name in ("serve.log", "watch.log")
                     for ln in (work / name).read_text().splitlines() if "line_items" in ln)
    print(f"log lines holding a body: {body_lines}; work folder {work}")


if __name__ == "__main__":
    main()
