"""Joins at scale: a 1,000,000-SKU article master with a 4,000,000-row translations
table (long format) and a 2,000,000-row photo table arriving with it as one set,
beside the plain master run (same master, same mapping without joined fields).

Each run is one ``filebridge run`` process; its wall time and peak RSS (from
wait4) are printed. Memory must stay bounded: the tables are spilled to SQLite
files in the ledger's scratch folder, never held as Python dicts.

    .venv/bin/python bench/joins.py                 # 1M SKUs, 4M + 2M table rows
    .venv/bin/python bench/joins.py --articles 25000  # a tenth of it
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LANGS = ("it", "en", "de", "fr")
FIELDS = ("NOME", "DESCR", "COMPOS", "CURA")
WORDS = ("lana", "cotone", "giacca", "morbido", "classico", "tinta", "unita", "città",
         "più", "caldo", "leggero", "elegante")


def make(folder: Path, articles: int) -> dict[str, int]:
    """Master (4 SKUs per article: 2 colours x 2 sizes), translations (4 languages x 4
    fields per article), photos (4 per article and colour, out of order)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = {"master": 0, "translations": 0, "photos": 0}
    with open(folder / "ANAART_20261127.txt", "w", encoding="cp1252", newline="\r\n") as m, \
            open(folder / "ANATRA_20261127.txt", "w", encoding="cp1252", newline="\r\n") as t, \
            open(folder / "ANAFOT_20261127.txt", "w", encoding="cp1252", newline="\r\n") as f:
        t.write("ARTICOLO;LINGUA;CAMPO;TESTO\n")
        f.write("ARTICOLO;COLORE;POSIZIONE;FILE\n")
        for a in range(articles):
            art = f"A{a:07d}"
            w = " ".join(WORDS[(a + k) % len(WORDS)] for k in range(4))
            for lang in LANGS:
                for fld in FIELDS:
                    t.write(f"{art};{lang};{fld};{fld.lower()} {lang} {w}\n")
                    n["translations"] += 1
            for col in ("001", "021"):
                for p in (3, 1, 4, 2):
                    f.write(f"{art};{col};{p};{art}_{col}_{p}.jpg\n")
                    n["photos"] += 1
                for size in ("S", "M"):
                    m.write(f"{art}{col}{size:<4}{a % 10**13:013d}{(a % 500) * 100 + 990:09d}"
                            f"{a % 50:05d}{w[:30]:<30}\n")
                    n["master"] += 1
    return n


PROFILE = """
name: {name}
source:
  kind: local
  path: inbox
  pattern: ["ANAART_*.txt"]
  ready: {{stable_for: 0s}}
read:
  format: fixed
  encoding: cp1252
  fields:
    ARTICOLO: {{start: 1, length: 8}}
    COLORE: {{start: 9, length: 3}}
    TAGLIA: {{start: 12, length: 4}}
    EAN: {{start: 16, length: 13}}
    PREZZO: {{start: 29, length: 9, type: decimal, scale: 2, implied: true}}
    GIACENZA: {{start: 38, length: 5, type: integer}}
    DESCR: {{start: 43, length: 30}}
{related}
map:
  key: sku
  languages: [it, en, de, fr]
  fields:
    sku: {{format: "{{ARTICOLO}}-{{COLORE}}-{{TAGLIA}}", apply: [trim]}}
    ean: {{from: EAN}}
    price: {{from: PREZZO}}
    stock: {{from: GIACENZA}}
{fields}
write:
  - {{format: csv, path: "out/{{stem}}.csv"}}
ledger: ledger.db
"""

RELATED = """
set:
  match: 'ANAART_(?P<date>[0-9]{8})[.]txt'
tables:
  trad: {member: "ANATRA_{date}.txt", read: {format: csv, delimiter: ";", encoding: cp1252}}
  foto: {member: "ANAFOT_{date}.txt", read: {format: csv, delimiter: ";", encoding: cp1252}}
join:
  - {table: trad, kind: wide, on: [ARTICOLO], language: LINGUA, field: CAMPO, value: TESTO,
     fields: {NOME: name, DESCR: descr, COMPOS: compos, CURA: care}}
  - {table: foto, kind: list, on: [ARTICOLO, COLORE], order: [POSIZIONE],
     template: "https://cdn.example.com/{FILE}", as: photos}
"""

JOINED = "\n".join(
    [f"    title{'' if lang == 'it' else '@' + lang}: {{from: name@{lang}}}" for lang in LANGS]
    + [f"    description{'' if lang == 'it' else '@' + lang}: {{from: descr@{lang}}}"
       for lang in LANGS] + ["    images: {from: photos}"])
PLAIN = "    title: {from: DESCR}"


def run(folder: Path) -> tuple[float, int, str]:
    cmd = [sys.executable, "-m", "filebridge", "run", str(folder / "p.yaml")]
    env = {k: v for k, v in os.environ.items() if k != "FILEBRIDGE_LEDGER"}
    t = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"run failed:\n{out}")
    return wall, usage.ru_maxrss // 1024, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=250_000, help="4 SKUs, 16 translations "
                    "and 8 photos each (default 250,000: 1M SKUs)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fb-bench-joins-"))
    try:
        t = time.monotonic()
        data = root / "data"
        n = make(data, args.articles)
        print(f"made {n['master']:,} SKUs, {n['translations']:,} translations, "
              f"{n['photos']:,} photos in {time.monotonic() - t:.1f} s")
        results = []
        for name, related, fields, files in (
                ("plain", "", PLAIN, ["ANAART_20261127.txt"]),
                ("joins", RELATED, JOINED, ["ANAART_20261127.txt", "ANATRA_20261127.txt",
                                            "ANAFOT_20261127.txt"])):
            folder = root / name
            (folder / "inbox").mkdir(parents=True)
            for f in files:
                os.link(data / f, folder / "inbox" / f)
            (folder / "p.yaml").write_text(PROFILE.format(name=name, related=related,
                                                          fields=fields))
            wall, rss, out = run(folder)
            outfile = folder / "out" / "ANAART_20261127.csv"
            with open(outfile, "rb") as f:
                header = f.readline().decode().strip()
                lines = sum(1 for _ in f)
            print(f"{name:<6} {wall:7.2f} s  peak RSS {rss:5d} MiB  {lines:,} rows out, "
                  f"{len(header.split(','))} columns, {outfile.stat().st_size / 1e6:.0f} MB")
            print("       " + out.strip().splitlines()[0])
            results.append((name, wall, rss))
            shutil.rmtree(folder / "out")
        (_, w0, r0), (_, w1, r1) = results
        print(f"joins / plain: {w1 / w0:.1f}x the time, {r1 - r0:+d} MiB peak RSS")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
