"""Magento product import files from a generated catalog: wall time and peak memory of
one run per shop file format on the same input (a figure, not a timed test).

    .venv/bin/python bench/magento_csv.py --products 5000 --format magento_csv
    .venv/bin/python bench/magento_csv.py --products 5000 --format woocommerce_csv

Each product has 5 sizes x 4 colours (20 SKUs), Italian and English texts, a category
path, two filters, a specification, a sale with dates and two images per colour.
"""

from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
from pathlib import Path

SIZES = ["XS", "S", "M", "L", "XL"]
COLOURS = ["Nero", "Blu", "Rosso", "Verde"]

PROFILE = """
name: bench-catalog
source: {kind: local, path: in, pattern: ["*.csv"]}
read: {format: csv, delimiter: ";", fields: {PRICE: {type: decimal}, STOCK: {type: integer}}}
map:
  key: sku
  languages: [it, en]
  fields:
    sku: {from: SKU}
    article: {from: ART}
    title: {from: NAME}
    title@en: {from: NAME_EN}
    description: {from: DESCR}
    description@en: {from: DESCR_EN}
    categories: {from: CAT}
    size: {from: SIZE}
    colour: {from: COLOUR}
    material: {from: MAT}
    composition: {from: COMP}
    price: {from: PRICE}
    sale_price: {from: SALE}
    sale_from: {from: FROM}
    sale_to: {from: TO}
    stock: {from: STOCK}
    images: {from: IMAGES}
    status: {value: active}
  product: {key: article, options: [{field: size, order: sizes}, colour]}
  attributes:
    material: {}
    composition: {filter: false}
write:
  - {format: FORMAT, path: "out/{stem}.csv"PARENTEXTRA}
feedback: {ack: null, rejects: null}
"""


def make(folder: Path, products: int) -> Path:
    src = folder / "in" / "catalog.csv"
    src.parent.mkdir(parents=True)
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["SKU", "ART", "NAME", "NAME_EN", "DESCR", "DESCR_EN", "CAT", "SIZE",
                    "COLOUR", "MAT", "COMP", "PRICE", "SALE", "FROM", "TO", "STOCK",
                    "IMAGES"])
        for p in range(products):
            art = f"A{p:06d}"
            for c in COLOURS:
                imgs = ",".join(f"https://cdn.example.com/{art}_{c}_{i}.jpg" for i in (1, 2))
                for s in SIZES:
                    w.writerow([f"{art}-{c[:3].upper()}-{s}", art, f"Giacca {p}",
                                f"Jacket {p}", "Giacca in lana, fodera in viscosa.",
                                "Wool jacket, viscose lining.",
                                f"Donna > Capispalla > Linea {p % 40}", s, c, "Lana",
                                "90% lana, 10% cachemire", "189,00".replace(",", "."),
                                "149.00", "2026-12-01", "2027-01-06", p % 7, imgs])
    return src


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=5000)
    ap.add_argument("--format", default="magento_csv")
    a = ap.parse_args()
    from filebridge.job import Job
    from filebridge.profile import load_profile
    from filebridge.runner import run_files

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = make(folder, a.products)
        extra = ", store_views: {en: en}" if a.format == "magento_csv" else ""
        if a.format == "shopify_csv":  # no parent SKU of its own: a handle per product
            extra = ""
        parent = "" if a.format == "shopify_csv" else ', parent_sku: "P-{key}"'
        (folder / "p.yaml").write_text(PROFILE.replace("FORMAT", a.format)
                                       .replace("PARENT", parent).replace("EXTRA", extra))
        job = Job(load_profile(folder / "p.yaml"))
        t = time.perf_counter()
        [outcome] = run_files(job, [src])
        wall = time.perf_counter() - t
        assert outcome.status == "done", outcome.reason
        size = sum(p.stat().st_size for p in (folder / "out").glob("*.csv"))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{a.format}: {a.products} products, {a.products * 20} SKUs: {wall:.2f} s, "
              f"peak RSS {rss:.0f} MiB, output {size / 1e6:.1f} MB, "
              f"tally {outcome.tally.as_dict()}")


if __name__ == "__main__":
    main()
