"""Chaos: several watchers share one ledger while they are SIGKILLed at random.

    python bench/chaos.py --watchers 2 --kills 200                  # SQLite
    python bench/chaos.py --watchers 3 --kills 200 --ledger postgresql://...
    python bench/chaos.py --speedup                                 # 1 vs 3 watchers

A workspace of P profiles (CSV in, a CSV output in ``mode: changes``, an ack per
file) all on one ledger, F files each dropped before the watchers start. W
``filebridge watch`` processes run over every profile; one of them, picked at
random, is SIGKILLed every 0.2-1.2 s and started again, until every file is done
and the kills are counted. Then it checks, against a clean single run of the same
files in another folder:

- every file was processed exactly once: one ledger row each, ``done``; every input
  is in the archive once, none left in the inbox;
- the outputs are byte-identical to the clean run's (the ``mode: changes``
  snapshots lost no update: the last file of each profile restates the whole
  catalog in another order, and must produce no output at all);
- no temporary output, scratch folder or claim is left over (after the restart
  sweep of one last ``watch --once``);
- every ack adds up (read = sent + unchanged + rejected + skipped + queued) and says
  what the clean run's says.

The test suite runs it small (tests/test_many_watchers.py); the figures in
bench/README.md come from running it here with the sizes above.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROWS = 120          # rows per file
CATALOG = 300       # distinct SKUs per profile
ACK_SKIP = {"processed"}  # ack columns that differ between two correct runs (a clock)


def _exe() -> list[str]:
    return [sys.executable, "-m", "filebridge"]


def profile(root: Path, name: str, ledger: str) -> dict:
    return {
        "name": name,
        "source": {"kind": "local", "path": str(root / name / "inbox"), "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}, "archive": str(root / name / "archive"),
                   "errors": str(root / name / "errors"), "watch": "events"},
        "read": {"format": "csv", "delimiter": ";", "encoding": "utf-8"},
        "map": {"key": "sku", "fields": {
            "sku": {"from": "sku", "required": True},
            "title": {"from": "title"},
            "price": {"from": "price", "type": "decimal"},
            "stock": {"from": "qty", "type": "integer"}}},
        "write": [{"format": "csv", "mode": "changes",
                   "path": str(root / name / "out" / "{stem}.csv")}],
        "feedback": {"ack": {"path": str(root / name / "feedback" / "{stem}.ack.csv")}},
        "ledger": ledger,
    }


def files_for(k: int, n: int, seed: int) -> list[tuple[str, bytes]]:
    """``n`` files for profile ``k``: random slices of a catalog whose prices and
    stock move from file to file; the last restates the whole catalog as it stands,
    rows in reverse order (no change: no output)."""
    rnd = random.Random(seed * 1000 + k)
    state: dict[str, tuple[str, str, int]] = {}
    out = []
    for j in range(n - 1):
        body = io.StringIO()
        w = csv.writer(body, delimiter=";", lineterminator="\n")
        w.writerow(["sku", "title", "price", "qty"])
        for i in sorted(rnd.sample(range(CATALOG), ROWS)):
            sku = f"K{k}-{i:04d}"
            old = state.get(sku)
            if old is None or rnd.random() < 0.3:
                old = (f"Articolo {i}", f"{rnd.randint(100, 99999) / 100:.2f}",
                       rnd.randint(0, 50))
            state[sku] = old
            w.writerow([sku, *old])
        out.append((f"F{j:04d}.csv", body.getvalue().encode()))
    body = io.StringIO()
    w = csv.writer(body, delimiter=";", lineterminator="\n")
    w.writerow(["sku", "title", "price", "qty"])
    for sku in sorted(state, reverse=True):
        w.writerow([sku, *state[sku]])
    out.append((f"F{n - 1:04d}.csv", body.getvalue().encode()))
    return out


def workspace(root: Path, profiles: int, files: int, ledger: str | None, seed: int
              ) -> list[Path]:
    """The profiles (YAML) and their inboxes, files dropped oldest first."""
    root.mkdir(parents=True, exist_ok=True)
    ledger = ledger or str(root / "ledger.db")
    paths = []
    base = time.time() - 10_000
    for k in range(profiles):
        name = f"p{k}"
        (root / name / "inbox").mkdir(parents=True, exist_ok=True)
        for j, (fname, data) in enumerate(files_for(k, files, seed)):
            f = root / name / "inbox" / fname
            f.write_bytes(data)
            os.utime(f, (base + j, base + j))  # the order the ERP wrote them in
        p = root / f"{name}.yaml"
        p.write_text(json.dumps(profile(root, name, ledger), indent=1))  # JSON is YAML
        paths.append(p)
    return paths


@dataclass
class Result:
    watchers: int
    profiles: int
    files: int
    kills: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        verdict = "OK" if not self.problems else f"{len(self.problems)} PROBLEMS"
        return (f"{self.watchers} watchers, {self.profiles} profiles x {self.files} files, "
                f"{self.kills} SIGKILLs, {self.seconds:.1f} s: {verdict}")


def _done(ledger: str, root: Path, total: int) -> bool:
    """Every file done (and archived), by the ledger."""
    try:
        n = _query(ledger, root, "SELECT count(*) FROM files WHERE status='done' AND "
                   "moved_to IS NOT NULL")[0][0]
    except Exception:  # the ledger is not created yet
        return False
    return n >= total


def _query(ledger: str, root: Path, sql: str) -> list[tuple]:
    if ledger.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(_pg_dsn(ledger)) as con:
            return con.execute(sql).fetchall()
    con = sqlite3.connect(ledger)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _pg_dsn(url: str) -> str:
    pw = os.environ.get("PG_PASSWORD")
    return url if not pw else url.replace("://", f"://:{pw}@", 1) if "@" not in url else \
        url.replace("@", f":{pw}@", 1)


def _start(profiles: list[Path], log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([*_exe(), "watch", *map(str, profiles)], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(log, "ab"),
                            start_new_session=True)


def run(root: Path, *, watchers: int, profiles: int, files: int, kills: int,
        ledger: str | None = None, seed: int = 1, timeout: float = 600.0,
        reference: Path | None = None, interval: tuple[float, float] = (0.2, 1.2)) -> Result:
    """The chaos run in ``root`` (and a clean run in ``reference``), checked."""
    env = dict(os.environ)
    env.pop("FILEBRIDGE_LEDGER", None)
    paths = workspace(root, profiles, files, ledger, seed)
    db = ledger or str(root / "ledger.db")
    total = profiles * files
    res = Result(watchers, profiles, files)
    rnd = random.Random(seed)
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    t0 = time.monotonic()
    procs = [_start(paths, logs / f"w{i}.log", env) for i in range(watchers)]
    try:
        while time.monotonic() - t0 < timeout:
            if _done(db, root, total):
                break
            time.sleep(rnd.uniform(*interval))
            if res.kills < kills:
                i = rnd.randrange(watchers)
                procs[i].send_signal(signal.SIGKILL)
                procs[i].wait()
                res.kills += 1
                procs[i] = _start(paths, logs / f"w{i}.log", env)
        else:
            res.problems.append(f"not every file was done after {timeout:.0f} s")
        res.seconds = time.monotonic() - t0
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    # One last pass sweeps what the last kill left (as any restart would).
    subprocess.run([*_exe(), "watch", "--once", *map(str, paths)], env=env,
                   capture_output=True, check=False)
    ref = reference or root.parent / (root.name + "-clean")
    if reference is None or not (ref / "p0").exists():
        clean(ref, profiles, files, seed, env)
    res.problems += check(root, ref, db, profiles, files)
    tracebacks = sum(f.read_text(errors="replace").count("Traceback")
                     for f in logs.iterdir())
    if tracebacks:
        res.problems.append(f"{tracebacks} tracebacks in the watchers' logs ({logs})")
    return res


def clean(ref: Path, profiles: int, files: int, seed: int, env: dict[str, str]) -> None:
    """The same files, one process, nothing killed: what the outputs must be."""
    shutil.rmtree(ref, ignore_errors=True)
    for p in workspace(ref, profiles, files, None, seed):
        subprocess.run([*_exe(), "run", str(p)], env=env, capture_output=True, check=False)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()} if folder.exists() else {}


def _ack(data: bytes) -> dict[str, str]:
    row = next(csv.DictReader(io.StringIO(data.decode()), delimiter=";"))
    return {k: v for k, v in row.items() if k not in ACK_SKIP}


def check(root: Path, ref: Path, ledger: str, profiles: int, files: int) -> list[str]:
    problems = []
    rows = _query(ledger, root, "SELECT profile, name, status FROM files ORDER BY id")
    seen: dict[tuple[str, str], list[str]] = {}
    for prof, name, status in rows:
        seen.setdefault((prof, name), []).append(status)
    for k in range(profiles):
        for j in range(files):
            st = seen.get((f"p{k}", f"F{j:04d}.csv"))
            if st != ["done"]:
                problems.append(f"p{k}/F{j:04d}.csv: ledger rows {st}")
    if len(rows) != profiles * files:
        problems.append(f"{len(rows)} ledger file rows for {profiles * files} files")
    for k in range(profiles):
        name = f"p{k}"
        if left := sorted(p.name for p in (root / name / "inbox").iterdir()):
            problems.append(f"{name}: left in the inbox: {left[:5]}")
        # Archived as <stem>.<claim time>.csv: each input once.
        archived = sorted(p.name.split(".")[0] + ".csv"
                          for p in (root / name / "archive").iterdir())
        if archived != [f"F{j:04d}.csv" for j in range(files)]:
            problems.append(f"{name}: archive holds {len(archived)} files: {archived[:8]}")
        got, want = _tree(root / name / "out"), _tree(ref / name / "out")
        if got != want:
            diff = sorted(set(got) ^ set(want)) or [x for x in got if got[x] != want.get(x)]
            problems.append(f"{name}: outputs differ from the clean run: {diff[:5]}")
        acks, ref_acks = _tree(root / name / "feedback"), _tree(ref / name / "feedback")
        if sorted(acks) != sorted(ref_acks):
            problems.append(f"{name}: acks {len(acks)} vs {len(ref_acks)} in the clean run")
        for fname, data in acks.items():
            a = _ack(data)
            n = {k: int(a.get(k) or 0) for k in ("read", "sent", "unchanged", "rejected",
                                                  "skipped", "queued")}
            if n["read"] != sum(v for k, v in n.items() if k != "read"):
                problems.append(f"{name}/{fname}: counts do not add up: {n}")
            if fname in ref_acks and a != _ack(ref_acks[fname]):
                problems.append(f"{name}/{fname}: ack {a} vs clean {_ack(ref_acks[fname])}")
    for p in root.rglob("*"):
        if p.name.startswith(".filebridge-tmp-") or p.name.endswith(".processing"):
            problems.append(f"left over: {p}")
    scratch = root / ".filebridge-scratch"
    if scratch.exists() and any(d for d in scratch.rglob("*") if d.is_dir()
                                and d.parent != scratch):
        problems.append(f"scratch folders left over in {scratch}")
    return problems


def speedup(root: Path, files: int = 300, profiles: int = 6, counts: tuple[int, ...] = (1, 3),
            ledger: str | None = None) -> dict[int, float]:
    """Seconds until ``files`` small files (over ``profiles`` profiles) are done, by
    the number of watchers, no kills."""
    out = {}
    for w in counts:
        r = run(root / f"speed{w}", watchers=w, profiles=profiles, files=files // profiles,
                kills=0, ledger=ledger and f"{ledger}", seed=7,
                reference=root / "speed-clean")
        out[w] = r.seconds
        print(r.line(), *r.problems[:5], sep="\n  ")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--watchers", type=int, default=2)
    ap.add_argument("--profiles", type=int, default=3)
    ap.add_argument("--files", type=int, default=100, help="files per profile")
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--ledger", help="postgresql://... (default: one SQLite file)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--speedup", action="store_true", help="time 1 and 3 watchers instead")
    ap.add_argument("--keep", action="store_true", help="keep the workspace")
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="filebridge-chaos-"))
    try:
        if a.speedup:
            t = speedup(root, ledger=a.ledger)
            print(f"speed-up of 3 watchers over 1: {t[1] / t[3]:.2f}x "
                  f"({t[1]:.1f} s -> {t[3]:.1f} s)")
            return 0
        r = run(root / "chaos", watchers=a.watchers, profiles=a.profiles, files=a.files,
                kills=a.kills, ledger=a.ledger, seed=a.seed, timeout=3600)
        print(r.line())
        for p in r.problems[:30]:
            print("  " + p)
        print(json.dumps({"watchers": r.watchers, "kills": r.kills, "seconds": round(r.seconds, 1),
                          "problems": len(r.problems)}))
        return 1 if r.problems else 0
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"workspace kept: {root}")


if __name__ == "__main__":
    sys.exit(main())
