"""`filebridge demo`: a fresh working folder, every sample profile run once."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from filebridge.demo import BUNDLED, MARKER, run_demo

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


def test_demo_runs_only_the_bundled_profiles(tmp_path, monkeypatch, capsys):
    """A profile of one's own in profiles/ (the tutorial's, writing the same Shopify
    file as articoli-shopify; a broken one) is neither copied nor run."""
    import shutil

    import filebridge.demo as demo_mod

    repo = tmp_path / "checkout"
    shutil.copytree(REPO / "profiles", repo / "profiles",
                    ignore=shutil.ignore_patterns("*.db", "*.db-*"))
    shutil.copytree(REPO / "samples", repo / "samples")
    mine = (REPO / "profiles" / "articoli-shopify.yaml").read_text(encoding="utf-8")
    (repo / "profiles" / "articoli.yaml").write_text(
        mine.replace("name: articoli-shopify", "name: articoli"), encoding="utf-8")
    (repo / "profiles" / "broken.yaml").write_text("name: broken\nread: {format: fixd}\n")
    monkeypatch.setattr(demo_mod, "_repo", lambda: repo)
    assert run_demo(tmp_path / "demo") == 0
    out = capsys.readouterr().out
    assert "broken" not in out and "\narticoli: " not in out
    assert not (tmp_path / "demo" / "profiles" / "articoli.yaml").exists()
    assert not (tmp_path / "demo" / "profiles" / "broken.yaml").exists()
    assert out.count("  input ") == len(BUNDLED)
    paths = re.findall(r"^  (?:output|feedback) +(\S.*)$", out, re.M)
    assert len(paths) == len(set(paths))  # no two demo profiles write the same file


def test_bundled_is_every_sample_profile_of_the_repository():
    tracked = subprocess.run(["git", "ls-files", "profiles/*.yaml"], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout.split()
    assert sorted(BUNDLED) == sorted(
        Path(p).name for p in tracked if Path(p).parent.name == "profiles")


def test_next_line_says_how_to_run_filebridge(tmp_path, cli_env):
    """Not on the PATH: the demo's last line gives filebridge's path."""
    exe = Path(sys.executable).parent / "filebridge"
    assert exe.exists()
    env = dict(cli_env, PATH="/usr/bin:/bin")
    proc = demo(tmp_path / "demo", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == (
        f"Next: {exe} status --ledger {tmp_path / 'demo' / 'profiles' / 'filebridge.db'}")
    env = dict(cli_env, PATH=f"{exe.parent}:/usr/bin:/bin")
    proc = demo(tmp_path / "demo", env)
    assert proc.stdout.splitlines()[-1].startswith("Next: filebridge status --ledger ")
