"""Read speed and memory of the EBCDIC reader on a file with COMP-3 and COMP-2 fields.

    .venv/bin/python bench/ebcdic_read.py --records 1000000
    .venv/bin/python bench/ebcdic_read.py --records 1000000 --code /path/to/other/checkout

Makes one binary file (cp280 text, two COMP-3 numbers, a zoned number and one 8-byte
float per record, 65 bytes), then reads it in a fresh process per layout and prints
wall time, records per second and peak RSS. ``--code`` runs another checkout's
filebridge (e.g. main, before COMP-2 existed) on the same file: there the float's 8
bytes can only be declared as a binary field, the closest it can read.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

LRECL = 10 + 30 + 5 + 4 + 8 + 8


def ibm_double(v: np.ndarray) -> np.ndarray:
    """float64 -> IBM hexadecimal double bytes (n, 8), big-endian."""
    a = np.abs(v)
    m, e = np.frexp(a)  # a = m * 2**e, 0.5 <= m < 1
    exp16 = -((-e) // 4)  # ceil(e / 4): a = f * 16**exp16 with 1/16 <= f < 1
    frac = np.rint(np.ldexp(m, (e - 4 * exp16 + 56).astype(np.int32))).astype(np.uint64)
    zero = a == 0
    raw = (np.where(v < 0, np.uint64(1) << np.uint64(63), np.uint64(0)) |
           ((exp16 + 64).astype(np.uint64) << np.uint64(56)) | frac)
    raw = np.where(zero, np.uint64(0), raw)
    return raw.astype(">u8").view(np.uint8).reshape(-1, 8)


def make(path: Path, n: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        for start in range(0, n, 200_000):
            k = min(200_000, n - start)
            rec = np.full((k, LRECL), 0x40, dtype=np.uint8)  # EBCDIC blanks
            codes = rng.integers(0, 10, size=(k, 10), dtype=np.uint8)
            rec[:, 0:10] = 0xF0 + codes  # digits
            rec[:, 10:18] = np.frombuffer("Articolo".encode("cp500"), np.uint8)
            cents = rng.integers(-10**8, 10**8, size=k)
            digits = np.abs(cents)[:, None] // 10 ** np.arange(8, -1, -1) % 10  # 9 digits
            nib = np.concatenate([digits, np.where(cents < 0, 0xD, 0xC)[:, None]], axis=1)
            rec[:, 40:45] = (nib[:, 0::2] << 4 | nib[:, 1::2]).astype(np.uint8)  # S9(7)V99
            qty = rng.integers(0, 10**7, size=k)
            qd = qty[:, None] // 10 ** np.arange(6, -1, -1) % 10
            qn = np.concatenate([qd, np.full((k, 1), 0xF)], axis=1)
            rec[:, 45:49] = (qn[:, 0::2] << 4 | qn[:, 1::2]).astype(np.uint8)  # 9(7) COMP-3
            stock = rng.integers(0, 10**8, size=k)
            rec[:, 49:57] = (0xF0 + stock[:, None] // 10 ** np.arange(7, -1, -1) % 10)
            rec[:, 57:65] = ibm_double(np.round(rng.uniform(0, 500, size=k), 3))  # kg
            f.write(rec.tobytes())


FIELDS = {
    "CODART": {"start": 1, "length": 10},
    "DESCR": {"start": 11, "length": 30},
    "PREZZO": {"start": 41, "length": 5, "type": "decimal", "scale": 2, "storage": "packed"},
    "QTA": {"start": 46, "length": 4, "type": "integer", "storage": "packed",
            "sign": "none"},
    "GIACENZA": {"start": 50, "length": 8, "type": "integer", "storage": "zoned",
                 "sign": "none"},
}
LAYOUTS = {
    "comp3, float as 8-byte binary": {"PESO": {"start": 58, "length": 8, "type": "integer",
                                               "storage": "binary"}},
    "comp3 + COMP-2 float (ibm)": {"PESO": {"start": 58, "length": 8, "type": "decimal",
                                            "scale": 3, "storage": "float"}},
}

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from filebridge.readers.ebcdic import EbcdicOptions, EbcdicReader
from filebridge.records import FileReport
spec = json.loads(sys.argv[1])
o = EbcdicOptions.model_validate(spec)
t = time.perf_counter()
rep = FileReport("bench")
rows = 0
for b in EbcdicReader(o).read(Path(sys.argv[2]), rep):
    rows += b.table.num_rows
wall = time.perf_counter() - t
print(json.dumps({"rows": rows, "rejects": len(list(rep.rejects())), "wall": wall,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: Path, path: Path, extra: dict, float_format: bool) -> dict:
    spec = {"format": "ebcdic", "encoding": "cp280", "record_length": LRECL,
            "fields": FIELDS | extra}
    if float_format:
        spec["float_format"] = "ibm"
    env = dict(os.environ, PYTHONPATH=str(code))
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec), str(path)],
                         capture_output=True, text=True, env=env, check=True, cwd=code)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--code", type=Path, default=None, help="another checkout to compare")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ARTICOLI.bin"
        make(path, args.records)
        print(f"{args.records:,} records x {LRECL} bytes = "
              f"{path.stat().st_size / 2**20:.1f} MiB")
        plans = [(here, name, extra, "float" in name) for name, extra in LAYOUTS.items()]
        if args.code:
            plans.insert(0, (args.code, "comp3, float as 8-byte binary",
                             LAYOUTS["comp3, float as 8-byte binary"], False))
        for code, name, extra, floats in plans:
            runs = [run(code, path, extra, floats) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["wall"])
            print(f"{code.name:>16}  {name:<32} {best['wall']:6.2f} s "
                  f"{best['rows'] / best['wall'] / 1e6:5.2f} M rec/s "
                  f"peak RSS {max(r['rss_mib'] for r in runs):5.0f} MiB "
                  f"rejects {best['rejects']}")


if __name__ == "__main__":
    main()
