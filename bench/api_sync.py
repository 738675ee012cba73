"""Shop API throughput and delta cost, printed, not asserted.

1. Stock updates/s to the loopback WooCommerce server (run in its own process, so
   it does not share filebridge's interpreter): a catalog of N products is created,
   then a stock-only sink sets every quantity twice: the first pass includes the
   SKU -> id lookups, the second runs on ids the ledger remembers.
2. The same stock passes against a real Vendure (tests/shops/vendure, Node), with
   ``--vendure N`` (creating the N variants first takes a while: Vendure creates
   about 70 products/s here).
3. Delta cost: an export of R rows sent in full (the first load), then unchanged,
   then with 1% of the rows changed; wall time of each `filebridge run`.

    .venv/bin/python bench/api_sync.py --updates 10000 --rows 1000000 --vendure 10000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


WOO = {"format": "woocommerce_api", "url": "${WOO_URL}", "consumer_key": "${WOO_KEY}",
       "consumer_secret": "${WOO_SECRET}"}
VENDURE = {"format": "vendure_api", "url": "${VENDURE_URL}", "username": "${VENDURE_USER}",
           "password": "${VENDURE_PASSWORD}"}


def serve(conn) -> None:  # the shop's process
    from shops.woocommerce import WooServer

    with WooServer(key="ck_bench", secret="cs_bench") as shop:
        conn.send(shop.url)
        while (msg := conn.recv()) != "stop":
            if msg == "count":
                conn.send((len(shop.shop.products), len(shop.shop.variations)))
            elif msg == "requests":
                conn.send(shop.requests)


def profile(folder: Path, name: str, sink: dict, shop: str = "woo") -> Path:
    data = {
        "name": name,
        "source": {"kind": "local", "path": str(folder / "inbox" / name), "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}, "archive": str(folder / "archive" / name)},
        "read": {"format": "csv", "delimiter": ";", "fields": {
            "QTY": {"type": "integer"}, "PRICE": {"type": "decimal", "scale": 2}}},
        "map": {"key": "sku", "fields": {"sku": {"from": "SKU"}, "title": {"from": "NAME"},
                                         "price": {"from": "PRICE"},
                                         "stock": {"from": "QTY"}}},
        "write": [(WOO if shop == "woo" else VENDURE) | sink],
        "feedback": {"ack": {"path": str(folder / "feedback" / "{stem}.ack.csv")},
                     "rejects": None},
    }
    (folder / "inbox" / name).mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(data, indent=1))  # JSON is YAML
    return path


def export(folder: Path, name: str, stem: str, n: int, qty_shift: int = 0,
           changed_every: int = 0) -> None:
    with open(folder / "inbox" / name / f"{stem}.csv", "w", encoding="utf-8") as f:
        f.write("SKU;NAME;PRICE;QTY\n")
        for i in range(n):
            q = (i + qty_shift) % 50
            if changed_every and i % changed_every == 0:
                q += 1000
            f.write(f"SKU{i:07};Article {i};{10 + i % 90}.90;{q}\n")


def run(prof: Path, env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "filebridge", "run", str(prof)], env=env,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode not in (0, 1):
        sys.exit(f"filebridge failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return wall, r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--updates", type=int, default=10_000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--vendure", type=int, default=0, help="stock updates to a real Vendure")
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="fb-api-bench-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(child,), daemon=True)
    server.start()
    url = parent.recv()
    env = dict(os.environ, WOO_URL=url, WOO_KEY="ck_bench", WOO_SECRET="cs_bench",
               FILEBRIDGE_LEDGER=str(work / "ledger.db"))
    print(f"loopback WooCommerce at {url}; work in {work}")

    n = args.updates
    cat = profile(work, "catalog", {"sync": "catalog"})
    stock = profile(work, "stock", {"sync": "stock"})
    export(work, "catalog", "C_1", n)
    wall, line = run(cat, env)
    print(f"create {n} products: {wall:.2f} s ({n / wall:,.0f}/s) - {line}")
    for label, shift in (("first stock sync, with SKU lookups", 1), ("stock updates", 2)):
        export(work, "stock", f"S_{shift}", n, qty_shift=shift)
        wall, line = run(stock, env)
        print(f"{label}: {n} in {wall:.2f} s = {n / wall:,.0f} updates/s (whole run, "
              f"process start included) - {line}")

    if args.vendure:
        vendure(work, env, args.vendure)

    rows = args.rows
    big = profile(work, "delta", {"sync": "catalog", "limits": {"parallel": 4}})
    passes = (("full (first load)", "D_1", 0), ("unchanged", "D_2", 0),
              ("1% changed", "D_3", 100))
    for label, stem, every in passes if rows else ():
        export(work, "delta", stem, rows, changed_every=every)
        if stem == "D_2":  # same rows, another file (identical content is a duplicate)
            with open(work / "inbox" / "delta" / "D_2.csv", "a") as f:
                f.write("\n")
        wall, line = run(big, env)
        print(f"{rows:,} rows, {label}: {wall:.2f} s - {line}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    parent.send("count")
    print(f"shop holds {parent.recv()[0]:,} products; peak filebridge RSS {peak:.0f} MiB")
    parent.send("stop")
    server.join(5)


def vendure(work: Path, env: dict[str, str], n: int) -> None:
    from shops.vendure import VendureShop

    with VendureShop() as shop:
        venv = dict(env, VENDURE_URL=shop.direct_url, VENDURE_USER=shop.username,
                    VENDURE_PASSWORD=shop.password)
        cat = profile(work, "v-catalog", {"sync": "catalog"}, shop="vendure")
        stock = profile(work, "v-stock", {"sync": "stock"}, shop="vendure")
        export(work, "v-catalog", "VC_1", n)
        wall, line = run(cat, venv)
        print(f"Vendure: create {n} products: {wall:.2f} s ({n / wall:,.0f}/s) - {line}")
        for label, shift in (("first stock sync, with SKU lookups", 1), ("stock updates", 2)):
            export(work, "v-stock", f"VS_{shift}", n, qty_shift=shift)
            wall, line = run(stock, venv)
            print(f"Vendure: {label}: {n} in {wall:.2f} s = {n / wall:,.0f} updates/s - {line}")


if __name__ == "__main__":
    main()
