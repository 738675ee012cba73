"""A store's POS file to every shop, under ``filebridge watch``: printed, not asserted.

The four profiles of tests/test_stock_share.py in one folder, on one inventory: the
ERP's figures, a Shopify stock profile, a WooCommerce stock profile (loopback shops,
tests/shops) and the stores' POS files, which list no shop. ``filebridge watch``
runs all four in its own process. Each sample writes a POS file selling one unit of
X-1 under a temporary name and renames it into the inbox (from then on it is
complete), then times until both shops show the new figure.

    .venv/bin/python bench/pos_push.py --samples 10
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

FIGURE = 1000  # X-1 at MI, the store selling it: never sold out here


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10)
    args = ap.parse_args()

    from shops.shopify import TOKEN, ShopifyServer
    from shops.woocommerce import WooServer
    from test_stock_day import POS_HEAD
    from test_stock_share import profiles

    work = Path(tempfile.mkdtemp(prefix="fb-pos-bench-"))
    with WooServer(key="ck", secret="cs") as woo, ShopifyServer() as shop:
        for sku in ("X-1", "X-2"):
            woo.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                             "stock_quantity": 0})
            shop.add_variant(sku, {"Warehouse": 0})
        (work / "profiles").mkdir()
        profiles(work)
        env = dict(os.environ, WOO_URL=woo.url, WOO_KEY="ck", WOO_SECRET="cs",
                   SHOP_URL=shop.url, SHOP_TOKEN=TOKEN, TZ="UTC", PYTHONPATH=str(ROOT))
        env.pop("FILEBRIDGE_LEDGER", None)
        fb = [sys.executable, "-m", "filebridge"]
        for name in ("erp", "shopify", "woo"):
            (work / "inbox" / name / "DISPO_20261128_0200.csv").write_text(
                f"SKU;WH;QTY\nX-1;MI;{FIGURE}\nX-2;MAG;4\n")
            subprocess.run([*fb, "run", f"profiles/{name}.yaml"], cwd=work, env=env,
                           check=True, capture_output=True)

        def shows() -> tuple[int | None, int | None]:
            return woo.stock("X-1"), shop.stock("X-1", "Warehouse")

        assert shows() == (FIGURE, FIGURE), shows()
        log = (work / "watch.log").open("w")
        proc = subprocess.Popen([*fb, "watch"], cwd=work, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            time.sleep(3)  # the watchers are up
            inbox = work / "inbox" / "pos"
            lat = []
            for i in range(1, args.samples + 1):
                tmp = inbox / f".pos-{i}.tmp"
                tmp.write_text(POS_HEAD + f"R-{i:04d};1;MI;X-1;1;2026-11-28T10:{i % 60:02d}:"
                               "00+00:00\n", encoding="utf-8")
                want = (FIGURE - i, FIGURE - i)
                t0 = time.monotonic()
                os.replace(tmp, inbox / f"POS_MI_{i:04d}.csv")
                while shows() != want:
                    if time.monotonic() - t0 > 30:
                        raise SystemExit(f"sample {i}: shops show {shows()}, not {want}")
                    time.sleep(0.005)
                lat.append(time.monotonic() - t0)
                time.sleep(0.5)  # one file at a time
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            log.close()
    ms = sorted(x * 1000 for x in lat)
    print(f"POS file complete -> both shops show the figure, {len(ms)} samples: "
          f"median {statistics.median(ms):.0f} ms, min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms")
    print(f"(work folder: {work})")


if __name__ == "__main__":
    main()
