#!/usr/bin/env python3
"""Time `filebridge run` beside the peers of ../shared/bench in one run.

Copies the shared reference workload to a scratch folder (default
/tmp/filebridge-bench), makes its venv and data if missing, adds filebridge
entries (one per input format, each a `filebridge run` with a profile from
bench/profiles/) to the shared harness, and runs it: wall, cpu, peak RSS per
entry, every output checked with the shared verify.py.

    .venv/bin/python bench/run.py --rows 1000000            # everything
    .venv/bin/python bench/run.py --rows 100000 --only filebridge,stdlib
    .venv/bin/python bench/run.py --rows 1000000 --skip 'read_xml,csvkit,miller'

Every option after the script's own is passed to the shared run.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# ../shared/bench beside the checkout, or beside any folder above it (a worktree).
SHARED = next((p / "shared" / "bench" for p in HERE.parents
               if (p / "shared" / "bench" / "run.py").exists()),
              HERE.parent.parent / "shared" / "bench")
PROFILES = HERE / "profiles"


def prepare(work: Path, rows: int) -> None:
    if not (work / "run.py").exists():
        shutil.copytree(SHARED, work, dirs_exist_ok=True)
        for p in work.rglob("*"):
            p.chmod(p.stat().st_mode | 0o200)
    if not (work / ".venv" / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(work / ".venv")], check=True)
        subprocess.run([str(work / ".venv/bin/pip"), "install", "-q", "-r",
                        str(work / "requirements.txt")], check=True)
    if not (work / "data" / f"expected_{rows}.csv").exists():
        subprocess.run([str(work / ".venv/bin/python"), "gen.py", "--rows", str(rows)],
                       cwd=work, check=True)


def entries(scratch: Path) -> list[tuple[str, str, str, str]]:
    """filebridge entries in the shared harness's shape (name, input kind, kind, command)."""
    fb = f"{sys.executable} -m filebridge"
    out = []
    for fmt, profile in (("txt", "fixed"), ("csv", "csv"), ("xml", "xml")):
        prof = PROFILES / f"{profile}.yaml"
        if prof.exists():
            cmd = (f"exec env BENCH_WORK={scratch} BENCH_OUT={{out}} {fb} run --force "
                   f"{prof} {{inp}} >/dev/null")
            out.append((f"filebridge run ({profile} profile)", fmt, "task", cmd))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/filebridge-bench", help="scratch folder")
    ap.add_argument("--rows", type=int, default=1_000_000)
    args, rest = ap.parse_known_args()
    work = Path(args.work)
    prepare(work, args.rows)
    # As a pip install leaves it: without byte code (PYTHONDONTWRITEBYTECODE is set on
    # some machines) every run would compile filebridge again, ~0.5 s of cpu.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "filebridge")],
                   check=True)
    scratch = work / "fb-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "inbox").mkdir(parents=True)
    spec = importlib.util.spec_from_file_location("peer_run", work / "run.py")
    assert spec and spec.loader
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    harness.ENTRIES.extend(entries(scratch))
    os.environ.setdefault("FB_OUT", str(work / "out"))
    return harness.main(["--rows", str(args.rows), *rest]) or 0


if __name__ == "__main__":
    sys.exit(main())
