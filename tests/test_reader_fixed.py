import datetime as dt
from decimal import Decimal

import pytest

from filebridge.readers.fixed import FixedOptions, FixedReader
from filebridge.records import FileReport

LAYOUT = {
    "ART": {"start": 1, "length": 6},
    "DESC": {"start": 7, "length": 12},
    "PRICE": {"start": 19, "length": 7, "type": "decimal", "implied": True, "scale": 2},
    "QTY": {"start": 26, "length": 5, "type": "integer"},
    "DATE": {"start": 31, "length": 7, "type": "date", "format": "CYYMMDD"},
}


def read(path, **opts):
    o = FixedOptions.model_validate({"format": "fixed", "fields": LAYOUT, **opts})
    rep = FileReport(path.name)
    rows, lines = [], []
    for b in FixedReader(o).read(path, rep):
        rows += b.rows()
        lines += b.lines.to_pylist()
    return rows, lines, rep


def rec(art, desc, price, qty, date):
    return f"{art:<6}{desc:<12}{price:0>7}{qty:>5}{date}"


def test_layout_types_accents_and_ragged_lines(tmp_path):
    lines = [rec("A1", "Caffè", "1990", "00012", "1240315"),
             rec("B2", "Però ", "0000050", "-0003", "0991231"),
             "C3    Corto"]  # FTP ASCII dropped the trailing blanks
    p = tmp_path / "f.txt"
    p.write_bytes(("\r\n".join(lines) + "\r\n\r\n").encode("cp1252"))
    rows, nums, rep = read(p, encoding="cp1252")
    assert rows[0] == {"ART": "A1", "DESC": "Caffè", "PRICE": Decimal("19.90"), "QTY": 12,
                       "DATE": dt.date(2024, 3, 15)}
    assert rows[1]["QTY"] == -3 and rows[1]["DATE"] == dt.date(1999, 12, 31)
    assert rows[1]["PRICE"] == Decimal("0.50") and rows[1]["DESC"] == "Però"
    assert rows[2] == {"ART": "C3", "DESC": "Corto", "PRICE": None, "QTY": None, "DATE": None}
    assert nums == [1, 2, 3]
    assert rep.tally.read == 3


def test_bad_fields_reject_rows_with_line_and_field(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("\n".join([rec("A1", "ok", "100", "1", "1240101"),
                            rec("A2", "bad qty", "100", "1x", "1240101"),
                            rec("A3", "bad date", "100", "1", "1241399")]) + "\n",
                 encoding="cp1252")
    rows, _, rep = read(p)
    assert [r["ART"] for r in rows] == ["A1"]
    got = {(r.line, r.field) for r in rep.rejects()}
    assert got == {(2, "QTY"), (3, "DATE")}
    assert rep.tally.read == 3 and rep.tally.rejected == 2


def test_record_length_and_filter(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("\n".join([rec("A1", "x", "1", "1", "1240101"),
                            rec("H0", "header", "0", "0", "0000000"),
                            rec("A2", "y", "1", "1", "1240101") + "TOO LONG"]) + "\n")
    rows, _, rep = read(p, record_length=37, filter=[{"field": "ART", "matches": "^A"}])
    assert [r["ART"] for r in rows] == ["A1"]
    assert rep.tally.skipped == 1 and rep.tally.rejected == 1
    assert "longer than record_length 37" in next(rep.rejects()).reason


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8"])
def test_undecodable_bytes_reject_their_record_naming_the_line(tmp_path, encoding):
    """Issue 11 defect 8: one bad byte used to refuse the whole file."""
    p = tmp_path / "f.txt"
    p.write_bytes(rec("A1", "ok", "1", "1", "1240101").encode() + b"\n" +
                  rec("A2", "x", "1", "1", "1240101").encode().replace(b"x", b"\x81") + b"\n" +
                  rec("A3", "perch\u00e8", "1", "1", "1240101").encode(encoding) + b"\n")
    rows, lines, rep = read(p, encoding=encoding)
    assert [r["ART"] for r in rows] == ["A1", "A3"] and lines == [1, 3]
    assert rows[1]["DESC"] == "perch\u00e8"
    assert (rep.tally.read, rep.tally.rejected) == (3, 1)
    (rej,) = list(rep.rejects())
    assert rej.line == 2 and rej.reason.startswith(f"bytes b'\\x81' are not valid {encoding}")
    assert rej.field == ("DESC" if encoding == "cp1252" else None)  # by byte, or whole line


def test_utf8_fixed_width_slices_by_character(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text(rec("É1", "perché sì", "250", "2", "1240101") + "\n", encoding="utf-8")
    rows, _, _ = read(p, encoding="utf-8")
    assert rows[0]["ART"] == "É1" and rows[0]["DESC"] == "perché sì"
    assert rows[0]["PRICE"] == Decimal("2.50")


def test_layout_past_record_length_is_a_profile_error():
    with pytest.raises(ValueError, match="past record_length"):
        FixedOptions.model_validate({"format": "fixed", "fields": LAYOUT, "record_length": 20})


def test_overpunch_text_after_ebcdic_conversion(tmp_path):
    fields = {"ART": {"start": 1, "length": 3},
              "QTY": {"start": 4, "length": 5, "type": "integer", "storage": "overpunch"},
              "AMT": {"start": 9, "length": 5, "type": "decimal", "scale": 2,
                      "storage": "overpunch", "overpunch_table": "it"}}
    p = tmp_path / "f.txt"
    p.write_text("A011234N0012è\nA0200005001à\nA0300x0500005\n", encoding="cp1252")
    o = FixedOptions.model_validate({"format": "fixed", "fields": fields})
    rep = FileReport("f")
    rows = [r for b in FixedReader(o).read(p, rep) for r in b.rows()]
    assert rows == [{"ART": "A01", "QTY": -12345, "AMT": Decimal("-1.20")},
                    {"ART": "A02", "QTY": 5, "AMT": Decimal("0.10")}]
    assert [(r.line, r.field) for r in rep.rejects()] == [(3, "QTY")]


def test_binary_storage_needs_the_ebcdic_reader():
    with pytest.raises(ValueError, match="use format: ebcdic"):
        FixedOptions.model_validate({"format": "fixed", "fields": {
            "P": {"start": 1, "length": 5, "type": "decimal", "storage": "packed"}}})
