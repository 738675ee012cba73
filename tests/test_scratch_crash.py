"""Scratch space of a file's outputs (template parts, a shop file's product spool)
lives beside the ledger, never in $TMPDIR, and a process SIGKILLed while using it
(filebridge/crashpoints.py) leaves nothing anywhere once the next run has swept."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_profile
from helpers import KILLED, filebridge, fixed_profile, fixed_rows, ledger_files

pytestmark = pytest.mark.timeout(120)


def everything(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) \
        if folder.exists() else []


@pytest.mark.parametrize("point", ["template.part", "products.spooled"])
def test_nothing_left_after_a_kill_in_scratch(tmp_path, point):
    (tmp_path / "inbox").mkdir()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    prof = fixed_profile(tmp_path, stable_for="0s")
    prof["write"] = [
        {"format": "template", "path": str(tmp_path / "out" / "{stem}.xml"),
         "text": "<items>{% for r in records %}<i sku='{{ r.sku }}'/>{% endfor %}</items>"},
        {"format": "shopify_csv", "path": str(tmp_path / "out" / "{stem}.shopify.csv")}]
    path = write_profile(tmp_path, prof)
    (tmp_path / "inbox" / "A.txt").write_bytes(fixed_rows(50))
    env = {"TMPDIR": str(tmpdir)}

    died = filebridge("run", str(path), crash_at=point, env=env)
    assert died.returncode == KILLED, died.stderr
    scratch = tmp_path / ".filebridge-scratch" / "art"
    left = everything(scratch)
    assert left, "the kill should leave the scratch folder it was using"
    what = "template-" if point == "template.part" else "products-"
    assert any(p.startswith(what) for p in left), left
    assert everything(tmpdir) == []  # nothing ever goes to $TMPDIR

    done = filebridge("run", str(path), env=env)
    assert done.returncode == 0, done.stderr
    assert ledger_files(tmp_path / "ledger.db") == [("A.txt", "done")]
    assert everything(scratch) == []  # swept, and this run's own scratch removed
    assert everything(tmpdir) == []
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["A.shopify.csv", "A.xml"]
