"""The byte-matrix path (layouts.uniform) reads a block exactly as the general path
does, and leaves it to the general path whenever it could not."""

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from filebridge.layouts import uniform
from filebridge.layouts.fixed import FixedField
from filebridge.readers.base import parse_field
from filebridge.readers.fixed import FixedOptions, FixedReader
from filebridge.records import FileReport

LAYOUT = {
    "ART": {"start": 1, "length": 6},
    "DESC": {"start": 7, "length": 12},
    "PRICE": {"start": 19, "length": 7, "type": "decimal", "implied": True, "scale": 2},
    "QTY": {"start": 26, "length": 5, "type": "integer"},
    "NOTE": {"start": 31, "length": 8},  # past the end of most lines below
}


def rec(art: str, desc: str, price: str = "1990", qty: str = "00012") -> str:
    return f"{art:<6}{desc:<12}{price:0>7}{qty:>5}"


def read(path, fast: bool, monkeypatch, **opts):
    """Rows, lines, rejects and how many blocks the matrix path read."""
    o = FixedOptions.model_validate({"format": "fixed", "fields": LAYOUT, **opts})
    o.chunk_size = 200  # several blocks from a small file (the model's floor is 64 KiB)
    used = []
    real = uniform.lines

    def spy(block):
        rows = real(block) if fast else None
        used.append(rows is not None)
        return rows

    monkeypatch.setattr(uniform, "lines", spy)
    rep = FileReport(path.name)
    rows, lines = [], []
    for b in FixedReader(o).read(path, rep):
        rows += b.rows()
        lines += b.lines.to_pylist()
    rejects = [(r.line, r.field, r.reason, r.values) for r in rep.rejects()]
    return (rows, lines, rejects, rep.tally.read, rep.tally.skipped), sum(used)


def same_both_ways(path, monkeypatch, **opts):
    fast, blocks = read(path, True, monkeypatch, **opts)
    general, _ = read(path, False, monkeypatch, **opts)
    assert fast == general
    return fast, blocks


def write(tmp_path, lines: list[str], end: str = "\n", encoding: str = "cp1252",
          last: bool = True):
    p = tmp_path / "f.txt"
    text = end.join(lines) + (end if last else "")
    p.write_bytes(text.encode(encoding))
    return p


MANY = [rec(f"A{i}", "Caffè €" if i % 3 else "plain", str(i), f"{i % 7 - 2:05d}")
        for i in range(40)]


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_uniform_lines_read_as_a_matrix_the_same(tmp_path, monkeypatch, end):
    (rows, lines, rejects, n, _), blocks = same_both_ways(write(tmp_path, MANY, end),
                                                         monkeypatch, encoding="cp1252")
    assert blocks >= 3  # every block of this file went the matrix way
    assert rows[1] == {"ART": "A1", "DESC": "Caffè €", "PRICE": Decimal("0.01"),
                       "QTY": -1, "NOTE": ""}
    assert lines == list(range(1, 41)) and n == 40 and not rejects


def test_mixed_lengths_fall_back_with_the_right_lines_in_rejects(tmp_path, monkeypatch):
    lines = MANY[:10] + [rec("B1", "short")[:20]] + MANY[10:25] + \
        [rec("B2", "bad qty", qty="1x")] + MANY[25:]
    (rows, nums, rejects, n, _), blocks = same_both_ways(write(tmp_path, lines),
                                                         monkeypatch, encoding="cp1252")
    assert 0 < blocks < 8  # the uniform blocks only
    assert [(r[0], r[1]) for r in rejects] == [(27, "QTY")]
    assert rows[10]["ART"] == "B1" and nums[10] == 11 and n == 42


@pytest.mark.parametrize("case", ["short last line", "no final newline",
                                  "blank line", "blank line of spaces", "stray CR",
                                  "CR in a LF file", "LF inside a line"])
def test_blocks_the_matrix_cannot_read_fall_back(tmp_path, monkeypatch, case):
    lines, last, end = list(MANY), True, "\n"
    if case == "short last line":
        lines[-1] = lines[-1][:12]
    elif case == "no final newline":
        last = False
    elif case == "blank line":
        lines.insert(20, "")
    elif case == "blank line of spaces":
        lines.insert(20, " " * len(lines[0]))
    elif case == "stray CR":  # one LF line among CRLF ones (CR before the LF of all others)
        lines = [x + "\r" for x in lines]
        lines[20] = lines[20][:-1] + "X"
    elif case == "CR in a LF file":  # one CRLF line among LF ones
        lines[20] = lines[20][:-1] + "\r"
    else:  # as long as the others, but two lines
        lines[20] = lines[20][:10] + "\n" + lines[20][11:]
    (rows, nums, _, n, _), blocks = same_both_ways(
        write(tmp_path, lines, end, last=last), monkeypatch, encoding="cp1252")
    assert blocks < 8
    # CRLF ends the lines of a block holding one: the LF-only line runs into the next.
    if case != "CR in a LF file":  # there the lines of the block run into one
        assert len(rows) == n == 40 - (case == "stray CR") + (case == "LF inside a line")
    if case.startswith("blank"):
        assert nums[20] == 22  # the blank line is not a record, but it is a line


@pytest.mark.parametrize("encoding", ["cp1252", "cp037", "latin-1"])
def test_single_byte_code_pages_with_non_ascii_bytes(tmp_path, monkeypatch, encoding):
    lines = [rec(f"Ä{i}", "Grüße à", "5", "1") for i in range(30)]
    p = tmp_path / "f.txt"
    p.write_bytes("\n".join(lines).encode(encoding) + "\n".encode(encoding))
    (rows, _, rejects, _, _), blocks = same_both_ways(p, monkeypatch, encoding=encoding)
    assert rows[3]["ART"] == "Ä3" and rows[3]["DESC"] == "Grüße à" and not rejects
    assert (blocks > 0) == (encoding != "cp037")  # EBCDIC is not ASCII-compatible


def test_a_byte_the_code_page_lacks_rejects_its_record(tmp_path, monkeypatch):
    lines = [x.encode("cp1252") for x in MANY]
    lines[6] = lines[6].replace(b"plain", b"pl\x81in")  # undefined in cp1252
    p = tmp_path / "f.txt"
    p.write_bytes(b"\n".join(lines) + b"\n")
    (rows, nums, rejects, _, _), _ = same_both_ways(p, monkeypatch, encoding="cp1252")
    assert [r[0] for r in rejects] == [7] and 7 not in nums and len(rows) == 39


def test_record_length_shorter_than_the_lines_falls_back(tmp_path, monkeypatch):
    (rows, _, rejects, _, _), blocks = same_both_ways(
        write(tmp_path, [x + "0123456789" for x in MANY]), monkeypatch,
        encoding="cp1252", record_length=38)
    assert not rows and len(rejects) == 40  # longer lines: the general path rejects


def test_column_trims_and_transcodes_like_the_general_path():
    rows = np.frombuffer("ab  é  \n€   x  \n".encode("cp1252"), np.uint8).reshape(2, 8)[:, :7]
    col = uniform.column(rows, FixedField(start=1, length=6), "cp1252")
    assert col is not None and col.to_pylist() == ["ab  é", "€   x"]
    past = uniform.column(rows, FixedField(start=7, length=4, trim=False), "cp1252")
    assert past is not None and past.to_pylist() == [" ", " "]
    beyond = uniform.column(rows, FixedField(start=9, length=2), "cp1252")
    assert beyond is not None and beyond.to_pylist() == ["", ""]


@pytest.mark.parametrize(("values", "direct"), [
    (["00012", "-0003", "+0004", "-0000", "99999"], True),
    (["   12", "00001"], False),  # blanks: the parsers trim them
    (["0001x", "00002"], False),  # a bad row: the parsers reject it
    (["000-1", "00002"], False),  # a sign inside
    (["00.12", "00002"], False),
])
@pytest.mark.parametrize("spec", [{"type": "integer"},
                                  {"type": "decimal", "implied": True, "scale": 2}])
def test_digits_type_numbers_as_the_parsers_do(values, direct, spec):
    f = FixedField(start=2, length=5, **spec)
    rows = np.frombuffer("".join(f"#{v}" for v in values).encode(), np.uint8).reshape(-1, 6)
    got = uniform.digits(rows, f)
    assert (got is not None) == direct
    if got is not None:
        values_, bad = parse_field(pa.array(values), f)
        assert bad is None and got.type == values_.type and got.equals(values_)


@pytest.mark.parametrize("bad", [False, True])
@pytest.mark.parametrize("conditions", [[{"field": "QTY", "min": 0}],
                                        [{"field": "QTY", "min": 0}, {"field": "ART",
                                                                      "matches": "[02468]$"}]])
def test_a_filter_on_numbers_typed_from_the_bytes_runs_first(tmp_path, monkeypatch, bad,
                                                            conditions):
    """Rows a filter leaves out are not cut into text, and count as skipped as before;
    with a row failing typing (bad) or a text field in the filter, it runs after."""
    lines = list(MANY)
    if bad:
        lines[7] = rec("B1", "bad qty", qty="1x")
    (rows, nums, rejects, n, skipped), blocks = same_both_ways(
        write(tmp_path, lines), monkeypatch, encoding="cp1252", filter=conditions)
    assert blocks >= 3 and n == 40 and skipped > 10
    assert all(r["QTY"] >= 0 for r in rows) and len(rows) + skipped + len(rejects) == 40
    assert [r[0] for r in rejects] == ([8] if bad else [])


def test_a_lacking_byte_in_a_row_the_filter_leaves_out_still_rejects_it(tmp_path,
                                                                        monkeypatch):
    """The general path rejects a record holding a byte the code page lacks before it
    filters: a row the early filter would skip is still a reject, not a skip."""
    lines = [x.encode("cp1252") for x in MANY]
    assert b"-0002" in lines[0]  # QTY -2: left out by min 0
    lines[0] = lines[0].replace(b"plain", b"pl\x81in")
    p = tmp_path / "f.txt"
    p.write_bytes(b"\n".join(lines) + b"\n")
    (rows, _, rejects, n, skipped), _ = same_both_ways(
        p, monkeypatch, encoding="cp1252", filter=[{"field": "QTY", "min": 0}])
    assert [r[0] for r in rejects] == [1] and n == 40
    assert len(rows) + skipped + len(rejects) == 40
