#!/usr/bin/env python3
"""Time the xlsx reader on a large sheet: wall, cpu and peak RSS of one read.

Writes (once, cached in --work) a workbook shaped like a collection sheet from IT:
a merged title row, the header on row 3, then ``--rows`` rows of article, colour,
size, EAN (a number with a 13-zero format), description, price (a number with a
money format), price typed as text (``1.250,00``), a sale date (a date cell, every
tenth row typed as text ``28/02/2027``) and stock. Each measurement reads the whole
sheet through ``XlsxReader`` in a fresh process, counting rows and rejects.

    .venv/bin/python bench/xlsx_read.py --rows 100000
    .venv/bin/python bench/xlsx_read.py --rows 100000 --profile plain

``--profile plain`` types only what the reader understood before text numbers and
mixed dates were supported (price cells, ISO date cells, stock), so it also runs
on older checkouts: ``--checkout DIR`` measures the filebridge in DIR (a
``git worktree add --detach DIR main``, say) with this venv's packages.

    .venv/bin/python bench/xlsx_read.py --profile plain --checkout /tmp/fb-main
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

PLAIN = {"Prezzo": {"type": "decimal"}, "Giacenza": {"type": "integer"},
         "Inizio saldi": {"type": "date"}}
MESSY = {"Prezzo": {"type": "decimal"}, "Prezzo testo": {"type": "decimal"},
         "Giacenza": {"type": "integer"},
         "Inizio saldi": {"type": "date", "format": "DMY"}}


def make(path: Path, rows: int, messy: bool) -> None:
    import xlsxwriter

    # Not constant_memory: that writes inline strings, Excel writes shared strings.
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Collezione")
    ean = wb.add_format({"num_format": "0000000000000"})
    money = wb.add_format({"num_format": "#,##0.00"})
    day = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.merge_range("A1:I1", "COLLEZIONE", wb.add_format({"bold": True}))
    ws.write_row(2, 0, ["Articolo", "Colore", "Taglia", "EAN", "Descrizione", "Prezzo",
                        "Prezzo testo", "Inizio saldi", "Giacenza"])
    for i in range(rows):
        r = 3 + i
        cents = 1000 + (i * 37) % 200000
        ws.write_string(r, 0, f"FW26{i // 20:06d}")
        ws.write_string(r, 1, f"{i % 7:03d}")
        ws.write_string(r, 2, ("XS", "S", "M", "L", "XL")[i % 5])
        ws.write_number(r, 3, 12345000000 + i, ean)  # 0012345…: leading zeros in the format
        ws.write_string(r, 4, f"Maglia girocollo in lana {i % 50}")
        ws.write_number(r, 5, cents / 100, money)
        euros, c = divmod(cents, 100)
        ws.write_string(r, 6, f"{euros:,}".replace(",", ".") + f",{c:02d}")
        sale = dt.date(2027, 1, 1) + dt.timedelta(days=i % 300)
        if messy and i % 10 == 0:
            ws.write_string(r, 7, f"{sale:%d/%m/%Y}")
        else:
            ws.write_datetime(r, 7, dt.datetime.combine(sale, dt.time()), day)
        ws.write_number(r, 8, i % 40)
    wb.close()


def measure(path: Path, fields: dict, extra: dict) -> dict:
    import filebridge
    from filebridge.readers.xlsx import XlsxOptions, XlsxReader
    from filebridge.records import FileReport


    opts = XlsxOptions.model_validate({"format": "xlsx", "header_row": 3, "fields": fields,
                                       **extra})
    report = FileReport(path.name)
    t0, c0 = time.perf_counter(), time.process_time()
    rows = sum(len(b) for b in XlsxReader(opts).read(path, report))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"code": str(Path(filebridge.__file__).parent.parent), "rows": rows,
            "rejected": report.tally.rejected, "read": report.tally.read,
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_rss_mib": round(rss)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--work", default="/tmp/filebridge-bench-xlsx")
    ap.add_argument("--profile", choices=["plain", "messy"], default="messy")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--checkout", help="read with the filebridge package in this folder")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        fields, extra = json.loads(args.child)
        print(json.dumps(measure(Path(args.work), fields, extra)))
        return 0
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    messy = args.profile == "messy"
    path = work / f"collezione_{args.rows}_{args.profile}.xlsx"
    if not path.exists():
        t0 = time.perf_counter()
        make(path, args.rows, messy)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    fields = MESSY if messy else PLAIN
    extra = {"decimal": ",", "thousands": "."} if messy else {}
    flags, env = [], dict(os.environ)
    if args.checkout:
        # -S: no site, so the editable install's finder does not shadow the checkout.
        flags = ["-S"]
        env["PYTHONPATH"] = os.pathsep.join([args.checkout, sysconfig.get_paths()["purelib"]])
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, *flags, __file__, "--work", str(path), "--child",
                              json.dumps([fields, extra])], capture_output=True, text=True,
                             check=True, env=env)
        print(out.stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
