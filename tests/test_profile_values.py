"""Issue 11 defect 9: profile values that reach Arrow are typed, and ``check`` refuses
what would only fail at run time (a list in ``filter: equals``, a value of the wrong
type for its field, min/max on text, a default its field cannot hold), naming the
YAML line; nothing is claimed or left ``processing``."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_profile
from helpers import filebridge, fixed_profile, fixed_rows, ledger_files

pytestmark = pytest.mark.timeout(120)


def _profile(tmp_path: Path, filter_: list | None = None, **fields: dict) -> Path:
    prof = fixed_profile(tmp_path, stable_for="0s")
    if filter_ is not None:
        prof["read"]["filter"] = filter_
    prof["map"]["fields"].update(fields)
    (tmp_path / "inbox").mkdir(exist_ok=True)
    return write_profile(tmp_path, prof)


@pytest.mark.parametrize("filter_, fields, message", [
    ([{"field": "ART", "equals": ["A1", "A2"]}], {},
     "read.filter.0.equals: one value is expected here"),
    ([{"field": "QTY", "equals": "many"}], {},
     "read.filter.0.equals: QTY: 'many' is not a valid integer"),
    ([{"field": "QTY", "in": [1, "x"]}], {}, "read.filter.0.in: QTY: 'x' is not a valid integer"),
    ([{"field": "DESC", "min": 3}], {},
     "read.filter.0.min: DESC: min needs an integer or decimal field"),
    ([{"field": "PRICE", "equals": {"a": 1}}], {}, "one value is expected here"),
    (None, {"stock": {"from": "QTY", "default": "none"}},
     "map.fields.stock.default: 'none' is not a valid integer"),
    (None, {"price": {"from": "DESC", "type": "decimal", "default": True}},
     "default: True is not a valid decimal"),
    (None, {"tags": {"value": {"a": 1}}}, "one value is expected here"),
    (None, {"colour": {"from": "DESC", "lookup": {"a": 1, "b": "x"}}},
     "must all be of one kind"),
])
def test_check_refuses_values_arrow_would_choke_on(tmp_path, filter_, fields, message):
    prof = _profile(tmp_path, filter_, **fields)
    checked = filebridge("check", str(prof))
    assert checked.returncode == 4, checked.stdout + checked.stderr
    assert message in checked.stderr, checked.stderr
    assert f"{prof}:" in checked.stderr  # located: file and line
    (tmp_path / "inbox" / "A.txt").write_bytes(fixed_rows(3))
    run = filebridge("run", str(prof))
    assert run.returncode == 4 and "Traceback" not in run.stderr
    assert ledger_files(tmp_path / "ledger.db") == []  # nothing claimed


def test_typed_values_that_fit_run(tmp_path):
    prof = _profile(tmp_path, [{"field": "QTY", "in": [1, 2]}, {"field": "PRICE", "min": 1.005},
                               {"field": "ART", "equals": "A0000002"}],
                    stock={"from": "QTY", "default": 0},
                    tags={"value": ["new", "sale"]})
    assert filebridge("check", str(prof)).returncode == 0
    (tmp_path / "inbox" / "A.txt").write_bytes(fixed_rows(3))
    run = filebridge("run", str(prof))
    assert run.returncode == 0, run.stderr
    assert "read 3, sent 1" in run.stdout and "skipped 2" in run.stdout
