"""`mode: changes` on the 1M-row fixed-width reference file: a first run against a
fresh ledger, then a second file with 1% of the records changed (GIACENZA of every
100th record, record length kept). Each run is one ``filebridge run`` process; its
cpu (user + sys) and peak RSS come from wait4. Prints both and the ratio of the
second run's cpu to the first's (issue 14's goal: <= 0.5, peak <= 250 MiB).

    .venv/bin/python bench/changes.py --work /tmp/fbb-me            # 1M rows
    .venv/bin/python bench/changes.py --work /tmp/fbb-me --rows 100000

``--work`` is a copy of the shared workload (bench/run.py prepares one); its data/
files are only read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORD = 124  # 122 bytes + CRLF
GIACENZA = slice(105, 112)  # 7 digits at column 106


def changed_copy(src: Path, dst: Path, every: int) -> int:
    """``src`` with GIACENZA + 1 (modulo 10^7) in every ``every``-th record."""
    n = 0
    with open(src, "rb") as f, open(dst, "wb") as out:
        while block := f.read(RECORD * 8192):
            buf = bytearray(block)
            for at in range(0, len(buf) - RECORD + 1, RECORD):
                if (n + at // RECORD) % every == 0:
                    field = buf[at + GIACENZA.start:at + GIACENZA.stop]
                    value = (int(field) + 1) % 10**7
                    buf[at + GIACENZA.start:at + GIACENZA.stop] = b"%07d" % value
            n += len(buf) // RECORD
            out.write(buf)
    return n


def run(profile: Path, env: dict[str, str], path: Path) -> tuple[float, float]:
    """(cpu seconds, peak MiB) of one ``filebridge run``."""
    proc = subprocess.Popen([sys.executable, "-m", "filebridge", "run", str(profile), str(path)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # 1: some rows rejected
        raise SystemExit(f"filebridge run {path} failed ({status})")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/filebridge-bench"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--every", type=int, default=100, help="change every N-th record")
    args = ap.parse_args()
    data = args.work / "data" / f"articoli_{args.rows}.txt"
    scratch = args.work / "changes-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "inbox").mkdir(parents=True)
    profile = scratch / "changes.yaml"
    text = (HERE / "profiles" / "fixed.yaml").read_text()
    profile.write_text(text.replace("    path: ${BENCH_OUT}\n",
                                    "    path: ${BENCH_OUT}\n    mode: changes\n"))
    if "mode: changes" not in profile.read_text():
        raise SystemExit("could not add mode: changes to bench/profiles/fixed.yaml")
    second = scratch / f"articoli_{args.rows}_changed.txt"
    changed_copy(data, second, args.every)
    # As bench/run.py does: byte code compiled first, so no run's cpu includes compiling
    # filebridge (~0.5 s where PYTHONDONTWRITEBYTECODE is set).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "filebridge")],
                   check=True)
    env = dict(os.environ, BENCH_WORK=str(scratch), PYTHONPATH=str(HERE.parent))
    figures = []
    for i, path in enumerate((data, second), 1):
        env["BENCH_OUT"] = str(scratch / f"out-{i}.csv")
        cpu, peak = run(profile, env, path)
        with open(env["BENCH_OUT"], "rb") as f:
            lines = sum(1 for _ in f) - 1
        figures.append((cpu, peak))
        print(f"run {i} ({path.name}): cpu {cpu:.2f} s, peak {peak:.0f} MiB, {lines} rows written")
    print(f"second / first cpu: {figures[1][0] / figures[0][0]:.2f}")


if __name__ == "__main__":
    main()
