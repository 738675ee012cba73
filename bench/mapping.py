"""The mapping stage alone on 1,000,000 rows: 10 plain fields, and the same plus 5
expression fields. Prints CPU seconds per variant (median of 3) and peak RSS. The rows
are made in memory and cut into batches first; only ``Mapper.apply`` is timed.

    .venv/bin/python bench/mapping.py [--rows 1000000] [--batch 40000] [--plain-only]

``--plain-only`` runs on a checkout without expressions (to compare before/after:
``PYTHONPATH=/path/to/old/checkout .venv/bin/python bench/mapping.py --plain-only``).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow as pa

from filebridge.mapping import Mapper, MapSpec
from filebridge.records import Batch, FileReport

PLAIN = {
    "sku": {"format": "{CODART}-{COLORE}-{TAGLIA}", "required": True},
    "article": {"from": "CODART", "required": True},
    "title": {"from": "DESCR", "apply": ["collapse_spaces", "capitalize"]},
    "colour": {"from": "COLORE", "lookup": "colori.csv"},
    "size": {"from": "TAGLIA"},
    "barcode": {"from": "EAN", "check": "ean13"},
    "price": {"from": "PREZZO", "type": "decimal", "decimal": ",", "min": 0},
    "sale": {"from": "SALDO", "type": "decimal", "decimal": ","},
    "stock": {"from": "QTA", "type": "integer", "clamp": [0, None]},
    "weight": {"from": "PESO", "type": "decimal", "scale": 3, "decimal": ","},
}
EXPRESSIONS = {
    "selling": {"expr": "coalesce(sale, price)"},
    "on_sale": {"expr": "sale is not None and today <= date('2027-01-31')"},
    "grams": {"expr": "unit(weight, 'kg', 'g')"},
    "net": {"expr": "round(selling / 1.22, 2)"},
    "kind": {"expr": "'simple' if size in ['TU', 'UNI'] else 'variable'"},
}


def data(rows: int, seed: int = 7) -> dict[str, list[str]]:
    import random

    rnd = random.Random(seed)
    sizes = ["XS", "S", "M", "L", "XL", "TU"]
    ean = "4006381333931"
    return {
        "CODART": [f"A{i // 30:07d}" for i in range(rows)],
        "COLORE": [f"{rnd.randrange(1, 40):03d}" for _ in range(rows)],
        "TAGLIA": [sizes[i % 6] for i in range(rows)],
        "EAN": [ean] * rows,
        "DESCR": [f"  maglia  girocollo {i % 977}  " for i in range(rows)],
        "PREZZO": [f"{rnd.randrange(100, 99999) / 100:.2f}".replace(".", ",")
                   for _ in range(rows)],
        "SALDO": [("" if i % 3 else f"{rnd.randrange(100, 9999) / 100:.2f}".replace(".", ","))
                  for i in range(rows)],
        "QTA": [str(rnd.randrange(-5, 50)) for _ in range(rows)],
        "PESO": [f"{rnd.randrange(50, 3000) / 1000:.3f}".replace(".", ",") for _ in range(rows)],
    }


def timed(fields: dict, base: Path, batches: list[Batch], today: date | None) -> float:
    m = Mapper(MapSpec.model_validate({"fields": fields}, context={"base": base}))
    rep = FileReport("bench")
    t = time.process_time()  # CPU seconds: the machine is shared, wall time drifts
    for b in batches:
        # Called as main's Mapper allows, so the same script measures before and after.
        m.apply(b, rep) if today is None else m.apply(b, rep, today=today)
        rep.flush()
    took = time.process_time() - t
    rep.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=40_000)
    ap.add_argument("--plain-only", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    base = Path(tempfile.mkdtemp())
    (base / "colori.csv").write_text("code,name\n" + "".join(
        f"{i:03d},Colore {i}\n" for i in range(1, 40)))
    cols = data(a.rows)
    table = pa.table(cols)
    batches = [Batch(table.slice(i, a.batch),
                     pa.array(range(i + 1, i + 1 + min(a.batch, a.rows - i)), pa.int64()))
               for i in range(0, a.rows, a.batch)]
    variants = [("10 plain fields", PLAIN, None)]
    if not a.plain_only:
        variants.append(("10 plain + 5 expression fields", PLAIN | EXPRESSIONS,
                         date(2027, 1, 15)))
    for label, fields, today in variants:
        times = [timed(fields, base, batches, today) for _ in range(a.repeat)]
        print(f"{label}: {statistics.median(times):.2f} s CPU (runs: "
              + ", ".join(f"{t:.2f}" for t in times) + ")")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows {a.rows}, batch {a.batch}, peak RSS {peak:.0f} MiB", file=sys.stderr)


if __name__ == "__main__":
    main()
