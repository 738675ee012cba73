#!/usr/bin/env python3
"""Time filebridge's start-up (issue 14): ``filebridge --help``, the import of what a
run loads, and a 10-row CSV -> CSV run, each in a fresh process.

    .venv/bin/python bench/startup.py --runs 7
    .venv/bin/python bench/startup.py --runs 7 --code /tmp/fb-main   # a baseline too

``--code DIR`` also times the filebridge in DIR (a ``git worktree add --detach DIR
main``, say) with this venv's packages, alternating with this checkout so that both
see the same load on the machine. Byte code is compiled first, as a pip install
leaves it. Wall time (min and median of ``--runs``) and the cpu of the median run;
the import line is ``python -X importtime`` of the 10-row run: seconds spent
importing filebridge's own modules and everything else.

``--instructions`` adds the instructions each checkout's 10-row run executes, counted
by valgrind (``callgrind``, about a minute a run): the same count on a busy machine as
on a quiet one, where wall time varies by 20%, so a change of a few percent shows.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS = 10
PROFILE = """\
name: startup-bench
source: {kind: local, path: inbox}
read:
  format: csv
  delimiter: ";"
  fields:
    PRICE: {type: decimal, scale: 2}
    QTY: {type: integer}
map:
  key: SKU
  fields:
    SKU: {from: CODE}
    Title: {from: NAME, apply: [trim]}
    Price: {from: PRICE}
    Qty: {from: QTY}
write:
  - {format: csv, path: out/items.csv}
ledger: filebridge.db
"""


def workload(folder: Path) -> tuple[Path, Path]:
    (folder / "inbox").mkdir(parents=True, exist_ok=True)
    profile = folder / "profile.yaml"
    profile.write_text(PROFILE, encoding="utf-8")
    data = folder / "items.csv"
    lines = ["CODE;NAME;PRICE;QTY"] + [f"A{i:04};Item {i} ;{i}.50;{i}" for i in range(ROWS)]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return profile, data


def timed(cmd: list[str], code: Path, cwd: Path) -> tuple[float, float, str]:
    """(wall s, cpu s, stderr) of one run of ``cmd`` with filebridge from ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stderr


def import_split(stderr: str) -> tuple[float, float]:
    """Seconds importing filebridge's modules and the others (self times)."""
    own = other = 0
    for m in re.finditer(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)", stderr):
        if m[2].split(".")[0] == "filebridge":
            own += int(m[1])
        else:
            other += int(m[1])
    return own / 1e6, other / 1e6


def summary(samples: list[tuple[float, float]]) -> str:
    walls = sorted(w for w, _ in samples)
    median = statistics.median(walls)
    cpu = statistics.median(c for _, c in samples)
    return f"min {walls[0]:.3f} s  median {median:.3f} s  (cpu median {cpu:.3f} s)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--code", type=Path, action="append", default=[],
                    help="another checkout to time as well (repeatable)")
    ap.add_argument("--instructions", action="store_true",
                    help="count the 10-row run's instructions under valgrind as well")
    args = ap.parse_args()
    codes = [HERE.parent, *(c.resolve() for c in args.code)]
    for code in codes:
        if not (code / "filebridge" / "__init__.py").exists():
            sys.exit(f"{code}: no filebridge package there")
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(code / "filebridge")],
                       check=True, stdout=subprocess.DEVNULL)
    # -P: the folder run from is not put first on sys.path; PYTHONPATH picks the code.
    py = [sys.executable, "-P"]
    results: dict[Path, dict[str, list[tuple[float, float]]]] = {
        c: {"help": [], "run": [], "import": []} for c in codes}
    with tempfile.TemporaryDirectory(prefix="fb-startup-") as tmp:
        for i in range(args.runs):
            for code in codes:  # alternating: both checkouts see the same moment
                folder = Path(tmp) / f"{codes.index(code)}-{i}"
                profile, data = workload(folder)
                r = results[code]
                w, c, _ = timed([*py, "-m", "filebridge", "--help"], code, folder)
                r["help"].append((w, c))
                w, c, _ = timed([*py, "-m", "filebridge", "run", str(profile), str(data)],
                                code, folder)
                r["run"].append((w, c))
                (folder / "filebridge.db").unlink()
                _, _, err = timed([*py, "-X", "importtime", "-m", "filebridge", "run",
                                   str(profile), str(data)], code, folder)
                r["import"].append(import_split(err))
    for code in codes:
        r = results[code]
        own = statistics.median(o for o, _ in r["import"])
        other = statistics.median(o for _, o in r["import"])
        print(f"{code}  ({args.runs} runs)")
        print(f"  --help       {summary(r['help'])}")
        print(f"  {ROWS}-row run   {summary(r['run'])}")
        print(f"  imports      filebridge {own:.3f} s, others {other:.3f} s "
              "(-X importtime, median)")
        if args.instructions:
            print(f"  10-row run   {instructions(code, py) / 1e6:,.0f} M instructions "
                  "(callgrind)")
    return 0


def instructions(code: Path, py: list[str]) -> int:
    """Instructions a fresh 10-row run executes (all threads), as callgrind counts."""
    with tempfile.TemporaryDirectory(prefix="fb-startup-") as tmp:
        profile, data = workload(Path(tmp))
        _, _, err = timed(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           *py, "-m", "filebridge", "run", str(profile), str(data)],
                          code, Path(tmp))
    found = re.search(r"Collected : (\d+)", err)
    if found is None:
        sys.exit(f"valgrind gave no count:\n{err[-2000:]}")
    return int(found[1])


if __name__ == "__main__":
    sys.exit(main())
