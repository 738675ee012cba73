"""Shared stock at scale, printed, not asserted: an ERP stock export of SKUS SKUs in
two web warehouses (2 × SKUS rows) read into the inventory, with 1% of the SKUs
carrying a web sale made after the export, and what may be sold written per SKU.

    .venv/bin/python bench/stock_figures.py --skus 500000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROFILE = {
    "name": "bench-stock",
    "source": {"kind": "local", "path": "inbox", "pattern": ["*.csv"],
               "ready": {"stable_for": "0s"}},
    "read": {"format": "csv", "delimiter": ";", "fields": {"QTA": {"type": "integer"}}},
    "map": {"key": "sku", "fields": {"sku": {"from": "SKU"}, "warehouse": {"from": "MAGAZZINO"},
                                     "stock": {"from": "QTA"}}},
    "stock": {"location": "warehouse", "web": ["MAG", "NEG1"],
              "as_of": {"name": r"DISPO_(\d{8}_\d{4})", "timezone": "UTC"},
              "safety": [{"sku": "SKU00000*", "qty": 1}]},
    "write": [{"format": "csv", "path": "out/{stem}.csv", "delimiter": ";"}],
    "feedback": {"ack": {"path": "fb/{stem}.ack.csv"}, "rejects": None},
    "ledger": "ledger.db",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skus", type=int, default=500_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fb-stock-bench-"))
    (work / "inbox").mkdir()
    (work / "p.yaml").write_text(json.dumps(PROFILE))
    rnd = random.Random(1)
    with open(work / "inbox" / "DISPO_20261127_0200.csv", "w") as f:
        f.write("SKU;MAGAZZINO;QTA\n")
        for i in range(args.skus):
            f.write(f"SKU{i:07d};MAG;{rnd.randint(0, 50)}\nSKU{i:07d};NEG1;{rnd.randint(0, 9)}\n")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from filebridge.ledger.sqlite import SqliteLedger
    from filebridge.orders.base import OrderLine
    from filebridge.stock.inventory import Inventory
    from filebridge.stock.spec import StockSpec

    inv = Inventory(SqliteLedger(work / "ledger.db"), StockSpec.model_validate({}))
    after = 1796004300.0  # 2026-11-27 02:05 UTC: after the export
    inv.record_orders("web:shop", [OrderLine(f"W{i}", "1", f"SKU{i:07d}", 1, "processing",
                                             after, after) for i in range(0, args.skus, 100)])
    inv.ledger.close()
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "filebridge", "run",
                        "p.yaml"], cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak = int(r.stderr.strip().splitlines()[-1]) / 1024
    print(r.stdout.strip().splitlines()[0])
    print(f"{2 * args.skus:,} rows, {args.skus:,} SKUs: {wall:.2f} s, peak RSS {peak:.0f} MiB")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
