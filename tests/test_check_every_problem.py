"""``check`` and ``status`` on a profile a newcomer got wrong: every problem at once,
each with file and line, exit 4 and no traceback (issue 13)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from filebridge.cli import main

PROFILE = """\
name: articoli
source: {kind: local, path: ../inbox/articoli, pattern: ["ARTICOLI_*.txt"]}
read:
  format: %(format)s
  record_length: 20
  fields:
    CODART: {start: 1, length: 10}
    COLORE: {start: 11, length: 3}
map:
  key: sku
  fields:
    sku:     {format: "{CODART}-{COLOR}", required: true}
    article: {from: CODARTX}
    colour:  {from: COLORE, lookup: colori.csv}
write:
  - format: shopify_csv
    path: ../outbox/{stem}.csv
"""


def _profile(tmp_path: Path, fmt: str = "fixed", lookup: bool = False) -> Path:
    (tmp_path / "profiles").mkdir(exist_ok=True)
    if lookup:
        (tmp_path / "profiles/colori.csv").write_text("code,value\n001,Nero\n")
    path = tmp_path / "profiles/articoli.yaml"
    path.write_text(PROFILE % {"format": fmt}, encoding="utf-8")
    return path


def _check(*paths: Path) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["check", *map(str, paths)])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    return r.exit_code, r.output


def test_a_missing_lookup_file_does_not_hide_unknown_layout_names(tmp_path: Path) -> None:
    path = _profile(tmp_path)
    code, out = _check(path)
    assert code == 4
    lines = out.splitlines()
    assert f"{path}:14: map.fields.colour.lookup: lookup file" in out
    assert (f"{path}:12: map.fields.sku.format: 'COLOR' is neither a mapped field nor a field "
            "of the layout or a join (CODART, COLORE)") in lines
    assert (f"{path}:13: map.fields.article.from: 'CODARTX' is neither a mapped field nor a "
            "field of the layout or a join (CODART, COLORE)") in lines
    assert len(lines) == 3, out


def test_unknown_layout_names_are_reported_once_when_alone(tmp_path: Path) -> None:
    path = _profile(tmp_path, lookup=True)
    code, out = _check(path)
    assert code == 4
    assert out.count("'COLOR' is neither") == 1 and out.count("'CODARTX' is neither") == 1
    assert len(out.splitlines()) == 2, out


def test_a_wrong_reader_tag_and_a_missing_lookup_both(tmp_path: Path) -> None:
    path = _profile(tmp_path, fmt="fixd")
    code, out = _check(path)
    assert code == 4
    assert f"{path}:4: read: Input tag 'fixd'" in out
    assert f"{path}:14: map.fields.colour.lookup: lookup file" in out


def test_status_on_a_broken_profile_says_why_and_exits_4(tmp_path: Path) -> None:
    path = _profile(tmp_path, fmt="fixd")
    r = CliRunner().invoke(main, ["status", "--profile", str(path)])
    assert r.exit_code == 4, r.output
    assert isinstance(r.exception, SystemExit)  # not a ProfileError traceback
    assert f"{path}:4: read: Input tag 'fixd'" in r.output
