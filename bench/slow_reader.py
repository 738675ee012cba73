"""Read-ahead of each reader against a slow consumer (issue 14).

For every reader with a contract sample (tests/contracts/samples/reader/), makes an
input of N records with the sample's generator, then reads it through the
reader's ``read`` twice in one process: taking batches as fast as they come, and
sleeping after each batch (a slow sink). Prints per reader the bytes the process
had read (/proc/self/io rchar) when the first batch was handed over and after a
pause there, and the peak RSS above the start while reading, fast vs slow.
A reader that reads ahead on a thread (Arrow's CSV reader did) shows more bytes
read during the pause and a higher peak when slow; a generator that reads only
when asked shows neither.

    .venv/bin/python bench/slow_reader.py                 # 200k records each
    .venv/bin/python bench/slow_reader.py --records 50000 --only xlsx,xml
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from contracts.harness import BASE, merge, present, sample  # noqa: E402
from ruamel.yaml import YAML  # noqa: E402

from filebridge.profile import load_profile  # noqa: E402
from filebridge.records import FileReport  # noqa: E402
from filebridge.registry import load_plugins  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def rchar() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar"))


def measure(reader, path: Path, pause: float, per_batch: float) -> dict[str, float]:
    """Peak RSS above the start while reading ``path``; bytes read by the first batch
    and after ``pause`` seconds there; ``per_batch`` seconds slept after each batch."""
    peak = [rss_mib()]
    start = peak[0]
    done = threading.Event()

    def sample_rss() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib())
            time.sleep(0.005)

    t = threading.Thread(target=sample_rss, daemon=True)
    t.start()
    r0 = rchar()
    batches = reader.read(path, FileReport(path.name))
    rows = len(next(batches))
    first = rchar() - r0
    time.sleep(pause)
    after_pause = rchar() - r0
    for b in batches:
        rows += len(b)
        if per_batch:
            time.sleep(per_batch)
    done.set()
    t.join()
    return {"rows": rows, "first": first, "paused": after_pause, "peak": peak[0] - start}


# Header and detail records in one fixed-width file (readers/multirecord.py): no
# contract sample has them.
MULTIRECORD = {"format": "fixed", "encoding": "cp1252", "chunk_size": 65536,
               "record_type": {"start": 1, "length": 1},
               "records": {"H": {"role": "header", "fields": {"ORD": {"start": 2, "length": 8}}},
                           "D": {"role": "detail", "inherit": ["ORD"], "fields": {
                               "ART": {"start": 2, "length": 8},
                               "QTY": {"start": 10, "length": 5, "type": "integer"}}}}}


def multirecord_input(n: int) -> bytes:
    """``n`` detail records, a header before every ninth."""
    out = []
    for i in range(n):
        if i % 9 == 0:
            out.append(f"H{i // 9:08d}")
        out.append(f"DA{i:07d}{i % 500:5d}")
    return ("\r\n".join(out) + "\r\n").encode("cp1252")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--only", default="", help="comma-separated reader names")
    ap.add_argument("--sleep", type=float, default=0.01, help="seconds per batch when slow")
    args = ap.parse_args()
    reg = load_plugins()
    only = {n for n in args.only.split(",") if n}
    print(f"{'reader':12} {'input MB':>9} {'rows':>8} {'read@1st MB':>12} "
          f"{'read@pause MB':>14} {'peak fast MiB':>14} {'peak slow MiB':>14}")
    cases = [(name, s.meta.get("profile", {}).get("read"), s.make, s.input_name)
             for kind, name in present() if kind == "reader"
             for s in [sample(kind, name)]]
    cases.append(("multirecord", MULTIRECORD, multirecord_input, "ORD_1.txt"))
    for name, read_opts, make, input_name in cases:
        if only and name not in only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            profile = merge({k: v for k, v in BASE.items() if k != "read"},
                            {"read": read_opts or BASE["read"]})
            with open(root / "contract.yaml", "w", encoding="utf-8") as f:
                YAML().dump(profile, f)
            read = load_profile(root / "contract.yaml").read
            reader = reg.get("reader", read.format)(read)
            path = root / input_name
            path.write_bytes(make(args.records))
            size = path.stat().st_size
            measure(reader, path, 0.0, 0.0)  # first-use caches are not the file's cost
            fast = measure(reader, path, 0.0, 0.0)
            slow = measure(reader, path, 1.0, args.sleep)
            print(f"{name:12} {size / 1e6:9.1f} {slow['rows']:8d} {slow['first'] / 1e6:12.2f} "
                  f"{slow['paused'] / 1e6:14.2f} {fast['peak']:14.1f} {slow['peak']:14.1f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
