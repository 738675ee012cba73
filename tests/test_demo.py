"""`filebridge demo`: a fresh working folder, every sample profile run once."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from filebridge.demo import MARKER, run_demo

REPO = Path(__file__).resolve().parents[1]


def demo(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", "demo", str(folder)],
                          capture_output=True, text=True, timeout=300, env=env,
                          cwd=folder.parent)


def test_demo_runs_every_sample_profile(tmp_path, cli_env):
    folder = tmp_path / "demo"
    proc = demo(folder, cli_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    paths = [Path(p) for p in re.findall(r"^  (?:output|feedback) +(\S.*)$", out, re.M)]
    assert paths and all(p.is_file() for p in paths), out
    assert all(p.is_relative_to(folder) for p in paths)
    profiles = sorted(p.stem for p in (REPO / "profiles").glob("*.yaml"))
    for name in profiles:
        assert f"\n{name}: " in "\n" + out
    assert out.count("  input ") == len(profiles)
    # every profile writes at least one output (one profile writes two shops' files)
    outputs = [p for p in paths if p.parent.parent.name == "outbox"]
    assert len(outputs) >= len(profiles)
    assert "deliberate bad rows" in out
    assert f"filebridge status --ledger {folder / 'profiles' / 'filebridge.db'}" in out
    assert (folder / "profiles" / "filebridge.db").is_file()
    assert not any((folder / "inbox").rglob("*.*"))  # every sample was taken and archived
    # One input per profile, plus the two members of the collection's set.
    assert len(list((folder / "archive").rglob("*.*"))) == len(profiles) + 2
    assert len(list((folder / "archive" / "collezione").iterdir())) == 3
    assert not (REPO / "profiles" / "filebridge.db").exists()

    again = demo(folder, cli_env)  # its own previous folder: starts afresh
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("  input ") == len(profiles)
    assert "duplicate" not in again.stdout
    # One input per profile, plus the two members of the collection's set.
    assert len(list((folder / "archive").rglob("*.*"))) == len(profiles) + 2
    assert len(list((folder / "archive" / "collezione").iterdir())) == 3


def test_demo_refuses_a_folder_it_did_not_make(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    assert run_demo(folder) == 2
    assert "not empty" in capsys.readouterr().out
    assert (folder / "notes.txt").read_text() == "keep me"
    assert not (folder / MARKER).exists()
