"""``filebridge demo FOLDER``: every sample profile run once on its sample file.

FOLDER becomes a working folder like a customer's: profiles/ (with the templates
and lookup tables they use), inbox/, outbox/, feedback/, archive/. Which sample
goes to which inbox is decided by the profiles themselves: a sample file goes
to every profile whose file patterns match its name.
"""

from __future__ import annotations

import csv
import fnmatch
import logging
import os
import shutil
import sys
from pathlib import Path

from pydantic import BaseModel

from filebridge.errors import FilebridgeError
from filebridge.job import Job
from filebridge.ledger import SqliteLedger
from filebridge.profile import ProfileBase, load_profile
from filebridge.runner import CONFIG_ERROR, FILES_REJECTED, OK, USAGE, run_files

MARKER = ".filebridge-demo"
# The sample profiles of this repository (README "Quick start"), each with its sample:
# never a profile someone added to profiles/ (their tutorial's, a customer's …).
BUNDLED = ("articoli-ebcdic.yaml", "articoli-shopify.yaml", "catalogo-donna.yaml",
           "collezione-as400.yaml", "disponibilita-web.yaml", "giacenze-woocommerce.yaml",
           "magazzino-stock.yaml", "ordini-documenti-erp.yaml", "ordini-evasi.yaml",
           "ordini-web-erp.yaml",
           "reparto-woocommerce.yaml", "spool-giacenze.yaml")


def _repo() -> Path | None:
    for root in (Path(__file__).resolve().parents[1], Path.cwd()):
        if (root / "profiles").is_dir() and (root / "samples").is_dir():
            return root
    return None


def _files_used(value: object, root: Path) -> set[Path]:
    """Files inside ``root`` that a validated profile refers to (templates, lookups)."""
    if isinstance(value, Path):
        return {value} if value.is_file() and value.is_relative_to(root) else set()
    if isinstance(value, BaseModel):
        value = list(value.__dict__.values())
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return set().union(*(_files_used(v, root) for v in value))
    return set()


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)


def _prepare(folder: Path) -> str | None:
    """A fresh working folder; refuses to empty one that is not a previous demo."""
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file, not a folder"
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            return f"{folder} is not empty and is not a previous demo folder: choose another"
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `filebridge demo`; safe to delete\n")
    return None


def _setup(repo: Path, folder: Path, original: ProfileBase) -> list[Path]:
    """Copy one profile, the files it uses, and the samples it takes; returns the inbox files."""
    for used in _files_used(original, repo):
        _copy(used, folder / used.relative_to(repo))
    inbox = folder / original.source.path.relative_to(repo)
    inbox.mkdir(parents=True, exist_ok=True)
    files = []
    # Members of a set (translations, photos…) arrive beside their main file.
    from filebridge.tables.spec import template_glob

    tables = getattr(original, "tables", None) or {}
    members = [template_glob(t.member) for t in tables.values() if t.is_member]
    for sample in sorted((repo / "samples").rglob("*")):
        if not sample.is_file():
            continue
        if any(fnmatch.fnmatch(sample.name, p) for p in original.source.pattern):
            _copy(sample, inbox / sample.name)
            files.append(inbox / sample.name)
        elif any(fnmatch.fnmatch(sample.name, p) for p in members):
            _copy(sample, inbox / sample.name)
    return files


def _say_rejects(path: Path, delimiter: str) -> None:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f, delimiter=delimiter):
                print(f"           line {row['line']}: {row['field'] or '-'}: {row['reason']}")
    except (OSError, KeyError, UnicodeDecodeError, csv.Error):
        pass  # a rejects file in another layout: it is listed, that is enough


def command() -> str:
    """How to type filebridge here: its name when the PATH finds this one, else its path."""
    exe = Path(sys.executable).parent / "filebridge"
    found = shutil.which("filebridge")
    if found and exe.exists() and Path(found).resolve() == exe.resolve():
        return "filebridge"
    if exe.exists():
        return str(exe)
    return f"{sys.executable} -m filebridge"


def _others(root: str, names: list[str]) -> set[str]:
    """copytree's ignore: ledgers, caches, and profiles that are not bundled."""
    skip = shutil.ignore_patterns("*.db", "*.db-*", "__pycache__")(root, names)
    if Path(root).name == "profiles":
        skip |= {n for n in names if n.endswith((".yaml", ".yml")) and n not in BUNDLED}
    return skip


def run_demo(folder: Path) -> int:
    repo = _repo()
    if repo is None:
        print("cannot find the samples/ and profiles/ folders (run from a filebridge checkout)")
        return USAGE
    folder = folder.resolve()
    if folder == repo or repo.is_relative_to(folder):
        print(f"{folder} holds the filebridge sources; choose another folder")
        return USAGE
    problem = _prepare(folder)
    if problem:
        print(problem)
        return USAGE
    shutil.copytree(repo / "profiles", folder / "profiles", ignore=_others)
    ledger_path = folder / "profiles" / "filebridge.db"
    log = logging.getLogger("filebridge")
    if log.getEffectiveLevel() == logging.INFO:
        log.setLevel(logging.WARNING)  # the demo prints the same, and more
    code = OK
    print(f"filebridge demo in {folder}\n")
    for path in (folder / "profiles" / name for name in BUNDLED):
        try:
            files = _setup(repo, folder, load_profile(repo / "profiles" / path.name))
            job = Job(load_profile(path), SqliteLedger(ledger_path))
        except FilebridgeError as e:
            print(f"{path.name}: {e}")
            code = CONFIG_ERROR
            continue
        print(f"{job.name}: {job.profile.description}")
        if not files:
            print("  (no sample file matches this profile's pattern)\n")
            continue
        fb = [o for o in (job.profile.feedback.ack, job.profile.feedback.rejects) if o]
        fb_dirs = {Path(os.path.normpath(job.profile.base / o.path)).parent for o in fb}
        for outcome in run_files(job, files):
            counts = ", ".join(f"{k} {v}" for k, v in outcome.tally.as_dict().items())
            print(f"  input    {outcome.file}: {outcome.status}")
            print(f"  counts   {counts}")
            if outcome.status == "rejected":
                print(f"  reason   {outcome.reason}\n  moved to {outcome.moved_to}")
                code = FILES_REJECTED
            for out in (Path(os.path.normpath(p)) for p in outcome.outputs):
                print(f"  {'feedback' if out.parent in fb_dirs else 'output':<8} {out}")
                if out in outcome.notes:  # what it holds, when rows are not lines
                    print(f"           {outcome.notes[out]}")
                rejects = job.profile.feedback.rejects
                if rejects is not None and out.name.endswith(".rejects.csv"):
                    _say_rejects(out, rejects.delimiter)
            if outcome.tally.rejected and outcome.status == "done":
                print(f"  ({outcome.tally.rejected} rows rejected: the sample's deliberate "
                      "bad rows, listed above and in the rejects file)")
        print()
    print(f"Working folder: {folder}")
    print("  profiles/ inbox/ outbox/ feedback/ archive/ (errors/ if a file is refused)")
    print(f"Next: {command()} status --ledger {ledger_path}")
    return code
