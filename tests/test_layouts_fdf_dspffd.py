"""FDF and DSPFFD layouts, the dispatcher (load_layout), profile overrides (merge)
and the ``filebridge layout`` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from filebridge.layouts.dspffd import compile_dspffd
from filebridge.layouts.fdf import compile_fdf
from filebridge.layouts.imported import LayoutError, load_layout, merge

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "layouts"


def spans(layout) -> dict[str, tuple[int, int]]:
    return {n: (f.start, f.length) for n, f in layout.fields.items()}


# --- FDF ---

def test_sample_fdf():
    layout = compile_fdf((SAMPLES / "ARTICOLI.fdf").read_text())
    assert spans(layout) == {"CODART": (1, 10), "COLORE": (11, 3), "TAGLIA": (14, 4),
                             "EAN": (18, 13), "DESCRIZIONE": (31, 40), "PREZZO": (71, 11),
                             "GIACENZA": (82, 8), "DTULTMOD": (90, 7)}
    assert layout.record_length == 96
    assert {f.type for f in layout.fields.values()} == {"text"}


def test_fdf_null_indicator_becomes_a_boolean_field():
    layout = compile_fdf("* comment\n field1   1   12  13\n field2  14   24   0\n"
                         "*END\nignored after the end\n")
    assert spans(layout) == {"field1": (1, 12), "field1_NULL": (13, 1), "field2": (14, 11)}
    assert layout.fields["field1_NULL"].type == "boolean"
    assert layout.record_length == 24


@pytest.mark.parametrize("text, line, words", [
    ("*COL 1 10 0\n*END\n", 1, "*COL"),
    ("A 1 10 0\nB 11 20\n*END\n", 2, "name start end nullpos"),
    ("A 1 10 0\nB 11 x 0\n*END\n", 2, "whole numbers"),
    ("A 1 10 0\nB 20 11 0\n*END\n", 2, "not a range"),
    ("A 1 10 5\n*END\n", 1, "inside the field"),
    ("A 1 10 0\na 11 20 0\n*END\n", 2, "defined twice (lines 1 and 2)"),
    ("* header\nA 1 10 0\nB 11 20 0\n", 3, "*END"),
])
def test_fdf_errors(text, line, words):
    with pytest.raises(LayoutError) as e:
        compile_fdf(text)
    assert (e.value.line, words in e.value.reason) == (line, True), str(e.value)


# --- DSPFFD ---

def test_sample_dspffd_matches_the_copybook():
    dspffd = load_layout(SAMPLES / "ARTICOLI_DSPFFD.csv")
    copybook = load_layout(SAMPLES / "ARTICOLI.cpy")
    assert (dspffd.kind, dspffd.name, dspffd.record_length) == ("dspffd", "ARTICOLI", 94)
    assert dspffd.record_length == copybook.record_length
    for name in ("CODART", "COLORE", "TAGLIA", "EAN", "PREZZO", "GIACENZA", "DTULTMOD"):
        a, b = dspffd.fields[name], copybook.fields[name]
        assert (a.start, a.length, a.type, a.storage, a.scale) == (
            b.start, b.length, b.type, b.storage, b.scale), name
    assert spans(dspffd)["DESCRIZION"] == (31, 40)  # a 10-character system name
    assert dspffd.fields["PREZZO"].implied and dspffd.fields["GIACENZA"].sign == "trailing"


def test_dspffd_semicolons_and_types():
    text = ("WHFILE;WHFLDI;WHFLDE;WHFOBO;WHFLDB;WHFLDD;WHFLDP;WHFLDT;WHFTXT\n"
            "F;CODICE;CODICE;1;6;0;0;A;Codice\n"
            "F;QTA;QTA;7;4;4;0;B;Quantità\n"
            "F;VALORE;VALORE;11;8;15;3;B;Valore\n"
            "F;DATA;DATA;19;10;0;0;L;Data\n"
            "F;ORA;ORA;29;8;0;0;T;Ora\n"
            "F;NETTO;NETTO;37;4;7;2;S;Netto\n"
            "F;PESO;PESO;41;3;5;0;P;Peso\n")
    layout = compile_dspffd(text)
    got = {n: (f.start, f.length, f.type, f.storage, f.scale) for n, f in layout.fields.items()}
    assert got == {"CODICE": (1, 6, "text", "text", 2), "QTA": (7, 4, "integer", "binary", 0),
                   "VALORE": (11, 8, "decimal", "binary", 3),
                   "DATA": (19, 10, "date", "text", 2), "ORA": (29, 8, "text", "text", 2),
                   "NETTO": (37, 4, "decimal", "zoned", 2),
                   "PESO": (41, 3, "integer", "packed", 0)}
    assert layout.fields["DATA"].format == "ISO" and layout.fields["VALORE"].implied
    assert layout.record_length == 43


def test_dspffd_whitespace_listing_zero_based_offsets():
    text = ("name      offset length digits decimals type    text\n"
            "CODART         0     10      0        0 CHAR    Codice articolo\n"
            "PREZZO        10      5      9        2 PACKED  Prezzo di vendita\n"
            "GIACENZA      15      7      7        0 S\n")
    layout = compile_dspffd(text)
    assert spans(layout) == {"CODART": (1, 10), "PREZZO": (11, 5), "GIACENZA": (16, 7)}
    assert layout.fields["PREZZO"].storage == "packed"
    one_based = text.replace("  0     10", "  1     10").replace("10      5", "11      5") \
        .replace("15      7", "16      7")
    assert spans(compile_dspffd(one_based)) == spans(layout)


@pytest.mark.parametrize("rows, line, words", [
    ("A,1,8,0,0,F\n", 2, "floating point"),
    ("A,1,8,0,0,Q\n", 2, "unknown type"),
    ("A,1,4,9,2,P\n", 2, "takes 5 bytes"),
    ("A,1,x,0,0,A\n", 2, "whole number"),
    ("A,1,3,0,0,A\nA,4,3,0,0,A\n", 3, "listed twice"),
    ("A,1,3,0,0,B\n", 2, "2, 4 or 8"),
])
def test_dspffd_errors(rows, line, words):
    with pytest.raises(LayoutError) as e:
        compile_dspffd("WHFLDE,WHFOBO,WHFLDB,WHFLDD,WHFLDP,WHFLDT\n" + rows)
    assert (e.value.line, words in e.value.reason) == (line, True), str(e.value)


def test_dspffd_whole_file_errors():
    with pytest.raises(LayoutError, match="no column for WHFOBO"):
        compile_dspffd("WHFLDE,WHFLDB,WHFLDT\nA,1,A\n")
    with pytest.raises(LayoutError, match="several record formats"):
        compile_dspffd("WHNAME,WHFLDE,WHFOBO,WHFLDB,WHFLDT\nR1,A,1,3,A\nR2,B,1,3,A\n")
    with pytest.raises(LayoutError, match="past the record length 5"):
        compile_dspffd("WHRLEN,WHFLDE,WHFOBO,WHFLDB,WHFLDT\n5,A,1,3,A\n5,B,4,3,A\n")


# --- dispatcher and overrides ---

def test_load_layout_detects_by_extension_and_content(tmp_path):
    assert load_layout(SAMPLES / "ARTICOLI.fdf").kind == "fdf"
    cases = {"a.txt": ("WHFLDI,WHFOBO,WHFLDB,WHFLDT\nA,1,3,A\n", "dspffd"),
             "b.txt": ("A 1 3 0\n*END\n", "fdf"),
             "c.txt": ("       01 R.\n           05 A PIC X(3).\n", "copybook"),
             "d.cbl": ("01 R.\n  05 A PIC X(3).\n", "copybook")}
    for name, (text, kind) in cases.items():
        (tmp_path / name).write_text(text)
        assert load_layout(tmp_path / name).kind == kind, name
    (tmp_path / "e.txt").write_text("hello\n")
    with pytest.raises(LayoutError, match="cannot tell"):
        load_layout(tmp_path / "e.txt")


def test_load_layout_locates_errors_in_the_file(tmp_path):
    bad = tmp_path / "BAD.cpy"
    bad.write_text("01 R.\n  05 A PIC X(3).\n  05 B PIC S9(3) COMP-2.\n")
    with pytest.raises(LayoutError) as e:
        load_layout(bad)
    assert str(e.value).startswith("BAD.cpy:3:12: B: a COMP-2 item has no PICTURE")
    with pytest.raises(LayoutError, match="cannot read"):
        load_layout(tmp_path / "missing.cpy")


def test_merge_overrides_types_keeps_positions():
    layout = load_layout(SAMPLES / "ARTICOLI.cpy")
    fields = merge(layout, {"DTULTMOD": {"type": "date", "format": "CYYMMDD"},
                            "ARTICOLO": {"start": 1, "length": 17}})  # a new, whole view
    d = fields["DTULTMOD"]
    assert (d.start, d.length, d.type, d.format, d.storage, d.sign) == (
        83, 7, "date", "CYYMMDD", "zoned", "none")
    assert (fields["ARTICOLO"].start, fields["ARTICOLO"].length) == (1, 17)
    assert list(fields)[:2] == ["CODART", "COLORE"] and layout.fields["DTULTMOD"].type == "integer"
    assert merge(layout, None) == layout.fields


@pytest.mark.parametrize("overrides, words", [
    ({"DTULTMD": {"type": "date"}}, "did you mean DTULTMOD"),
    ({"NOPE": {"type": "date"}}, "give start and length"),
    ({"CODART": {"storage": "packed"}}, "needs type integer"),
    ({"DTULTMOD": {"format": "XYZ"}}, "unknown date format"),
    ({"CODART": "date"}, "must be a mapping"),
    ({"EXTRA": {"start": 90, "length": 10}}, "past record_length 94"),
])
def test_merge_errors(overrides, words):
    with pytest.raises(LayoutError) as e:
        merge(load_layout(SAMPLES / "ARTICOLI.cpy"), overrides)
    assert words in str(e.value)


# --- command line ---

def layout_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", "layout", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_cli_layout_prints_the_table():
    r = layout_cmd("samples/layouts/ARTICOLI.cpy")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "ARTICOLI.cpy: copybook ARTICOLI-REC"
    assert lines[1].split() == ["NAME", "START", "END", "LENGTH", "TYPE", "STORAGE", "SCALE"]
    rows = {ln.split()[0]: ln.split()[1:] for ln in lines[2:-1]}
    assert rows["PREZZO"] == ["71", "75", "5", "decimal", "packed", "2", "implied"]
    assert rows["DTULTMOD"] == ["83", "89", "7", "integer", "zoned,", "unsigned"]
    assert rows["GIACENZA"][:5] == ["76", "82", "7", "integer", "zoned,"]
    assert rows["DESCRIZIONE"] == ["31", "70", "40", "text", "text"]
    assert lines[-1] == "record length: 94 (10 fields)"
    r = layout_cmd("--underscore", "samples/layouts/ARTICOLI.cpy")
    assert "ARTICOLI-REC" in r.stdout and r.returncode == 0


def test_cli_layout_bad_file_is_a_config_error(tmp_path):
    bad = tmp_path / "BAD.fdf"
    bad.write_text("A 1 10 0\nB 11 20 0\n")
    r = layout_cmd(str(bad))
    assert r.returncode == 4
    assert "BAD.fdf:2: no *END line" in r.stderr
