from decimal import Decimal
from pathlib import Path

import pytest

from filebridge.errors import RejectedFile
from filebridge.readers.csv import CsvOptions, CsvReader
from filebridge.records import FileReport


def read(path: Path, **opts):
    o = CsvOptions.model_validate({"format": "csv", **opts})
    report = FileReport(path.name)
    rows, lines = [], []
    for b in CsvReader(o).read(path, report):
        rows += b.rows()
        lines += b.lines.to_pylist()
    return rows, lines, report


def test_cp1252_semicolon_decimal_comma_thousands(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes("COD;DESCR;PREZZO;QTA\r\n001;Maglia è bella;1.234,50;7\r\n"
                  "002;Caffè;0,99-;-3\r\n".encode("cp1252"))
    rows, lines, rep = read(p, encoding="cp1252", delimiter=";", decimal=",", thousands=".",
                            fields={"PREZZO": {"type": "decimal"}, "QTA": {"type": "integer"}})
    assert rows[0] == {"COD": "001", "DESCR": "Maglia è bella", "PREZZO": Decimal("1234.50"),
                       "QTA": 7}
    assert rows[1]["PREZZO"] == Decimal("-0.99") and rows[1]["QTA"] == -3
    assert lines == [2, 3]
    assert rep.tally.read == 2 and rep.tally.rejected == 0


def test_quoted_delimiters_and_line_breaks_keep_source_lines(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text('A;B;C\n1;"x;y";3\n2;"two\nlines\nhere";4\n5;z;6\n', encoding="utf-8")
    rows, lines, _ = read(p, delimiter=";")
    assert [r["B"] for r in rows] == ["x;y", "two\nlines\nhere", "z"]
    assert lines == [2, 3, 6]


def test_bad_rows_are_rejects_with_lines_and_the_rest_goes_on(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("A,B,P\n1,x,1.5\n2,y\n3,z,abc\n4,w,2.25\n5,v,1.999\n", encoding="utf-8")
    rows, lines, rep = read(p, fields={"P": {"type": "decimal", "scale": 2}})
    assert [r["A"] for r in rows] == ["1", "4"]
    assert lines == [2, 5]
    rejects = {(r.line, r.field) for r in rep.rejects()}
    assert rejects == {(3, None), (4, "P"), (6, "P")}
    reasons = {r.line: r.reason for r in rep.rejects()}
    assert "expected 3 fields, found 2" in reasons[3]
    assert "'abc'" in reasons[4] and "at most 2 decimals" in reasons[6]
    assert rep.tally.read == 5 and rep.tally.rejected == 3
    rep.close()


def test_positional_columns_skip_lines_bom_and_blank_trailing_lines(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(b"\xef\xbb\xbfexported 2026-11-27\nA1,10\nA2,20\n\n\n")
    rows, lines, rep = read(p, encoding="utf-8-sig", header=False, columns=["SKU", "QTY"],
                            skip_lines=1)
    assert rows == [{"SKU": "A1", "QTY": "10"}, {"SKU": "A2", "QTY": "20"}]
    assert lines == [2, 3]

    h = tmp_path / "b.csv"
    h.write_bytes(b"\xef\xbb\xbfSKU,QTY\nA1,10\n")
    rows, _, _ = read(h, encoding="utf-8-sig")
    assert rows == [{"SKU": "A1", "QTY": "10"}]


def test_leading_zero_codes_stay_text(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("EAN,COL\n0012345678905,001\n", encoding="utf-8")
    rows, _, _ = read(p)
    assert rows == [{"EAN": "0012345678905", "COL": "001"}]


@pytest.mark.parametrize("content,why", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"\x00\x01\x02junk\xff" * 50, "binary"),
])
def test_unreadable_files_are_rejected(tmp_path, content, why):
    p = tmp_path / "a.csv"
    p.write_bytes(content)
    with pytest.raises(RejectedFile, match=why):
        read(p)


def test_filter_counts_skipped(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("T,Q\nD,1\nH,2\nD,-3\n", encoding="utf-8")
    rows, _, rep = read(p, fields={"Q": {"type": "integer"}},
                        filter=[{"field": "T", "equals": "D"}, {"field": "Q", "min": 0}])
    assert rows == [{"T": "D", "Q": 1}]
    assert rep.tally.skipped == 2 and rep.tally.read == 3
