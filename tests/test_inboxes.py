"""Two profiles on one inbox with overlapping patterns: ``check`` and ``watch`` say so
and exit 4 (filebridge/inboxes.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_profile

from filebridge.cli import main
from filebridge.inboxes import globs_overlap


@pytest.mark.parametrize("p,q,overlap", [
    ("A*.txt", "*B.txt", True),            # "AB.txt": neither glob matches the other
    ("ARTICOLI_*.txt", "ARTICOLI_EBCDIC_*.bin", False),
    ("ORDINI_*.txt", "ORDINI_WEB_*.txt", True),
    ("ORDINI_*.txt", "ORDINI_WEB_*.csv", False),
    ("*", "x", True),
    ("a?c", "abd", False),
    ("[ab]x", "bx", True),
    ("[a-c]x", "dx", False),
    ("*.csv", "*.txt", False),
])
def test_globs_overlap(p: str, q: str, overlap: bool) -> None:
    assert globs_overlap(p, q) is overlap
    assert globs_overlap(q, p) is overlap


def _profile(root: Path, name: str, inbox: str, pattern: str) -> Path:
    return write_profile(root, {
        "name": name,
        "source": {"kind": "local", "path": inbox, "pattern": [pattern]},
        "read": {"format": "csv"},
        "map": {"fields": {"sku": {"from": "SKU"}}},
        "write": [{"format": "woocommerce_csv", "path": f"../outbox/{name}/{{stem}}.csv"}],
    }, f"{name}.yaml")


def test_check_names_both_profiles_and_the_inbox(tmp_path: Path) -> None:
    a = _profile(tmp_path, "a", "../inbox", "ART_*.csv")
    b = _profile(tmp_path, "b", "../inbox/", "A*_2026*.csv")
    c = _profile(tmp_path, "c", "../inbox", "STOCK_*.csv")  # same folder, other files
    r = CliRunner().invoke(main, ["check", str(a), str(b), str(c)])
    assert r.exit_code == 4, r.output
    problems = [line for line in r.output.splitlines() if "same inbox" in line]
    assert problems == [(
        f"{a}: source: profiles 'a' and 'b' ({b}) take files from the same inbox "
        f"{tmp_path / 'inbox'} with overlapping patterns 'ART_*.csv' and 'A*_2026*.csv': "
        "each file would go to whichever looks first; give each its own folder or patterns "
        "that no name matches both")]
    assert CliRunner().invoke(main, ["check", str(a), str(c)]).exit_code == 0


def test_watch_refuses_to_start(tmp_path: Path) -> None:
    a = _profile(tmp_path, "a", "../inbox", "ART_*.csv")
    b = _profile(tmp_path, "b", "../inbox", "ART_2026*.csv")
    r = subprocess.run([sys.executable, "-m", "filebridge", "watch", str(a), str(b)],
                       check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 4, r.stderr
    assert "profiles 'a' and 'b'" in r.stderr and "same inbox" in r.stderr
    assert "Traceback" not in r.stderr
