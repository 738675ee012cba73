"""Header / detail / trailer files: inheritance, control totals, truncation."""

import re
from decimal import Decimal

import pytest

from filebridge.errors import RejectedFile
from filebridge.readers.fixed import FixedOptions, FixedReader
from filebridge.records import FileReport

LAYOUT = {
    "record_type": {"start": 1, "length": 1},
    "records": {
        "H": {"role": "header", "fields": {
            "ORDINE": {"start": 2, "length": 6}, "MAG": {"start": 8, "length": 3}}},
        "D": {"fields": {"SKU": {"start": 2, "length": 8},
                         "QTA": {"start": 10, "length": 4, "type": "integer"},
                         "PREZZO": {"start": 14, "length": 6, "type": "decimal",
                                    "implied": True}},
              "inherit": ["ORDINE", "MAG"]},
        "T": {"role": "trailer", "fields": {
            "NREC": {"start": 2, "length": 5, "type": "integer"},
            "TOTQTA": {"start": 7, "length": 7, "type": "integer"}},
            "count": "NREC", "sums": {"QTA": "TOTQTA"}},
    },
}


def h(order, mag):
    return f"H{order:<6}{mag:<3}"


def d(sku, qty, cents):
    return f"D{sku:<8}{qty:0>4}{cents:0>6}"


def t(n, total):
    return f"T{n:0>5}{total:0>7}"


def read(tmp_path, lines, **opts):
    p = tmp_path / "ORD.txt"
    p.write_text("\n".join(lines) + "\n", encoding="cp1252")
    o = FixedOptions.model_validate({"format": "fixed", **LAYOUT, **opts})
    rep = FileReport(p.name)
    rows = []
    for b in FixedReader(o).read(p, rep):
        rows += [dict(r, line=ln) for r, ln in zip(b.rows(), b.lines.to_pylist(), strict=True)]
    return rows, rep


def test_details_inherit_their_header_across_batches(tmp_path):
    lines = [h("A1", "M01"), d("SKU1", 2, 1000), d("SKU2", 1, 550),
             h("A2", "M02"), d("SKU3", 5, 100), t(3, 8)]
    rows, rep = read(tmp_path, lines, chunk_size=65536)
    assert rows == [
        {"SKU": "SKU1", "QTA": 2, "PREZZO": Decimal("10.00"), "ORDINE": "A1", "MAG": "M01",
         "line": 2},
        {"SKU": "SKU2", "QTA": 1, "PREZZO": Decimal("5.50"), "ORDINE": "A1", "MAG": "M01",
         "line": 3},
        {"SKU": "SKU3", "QTA": 5, "PREZZO": Decimal("1.00"), "ORDINE": "A2", "MAG": "M02",
         "line": 5}]
    assert rep.tally.read == 6 and rep.tally.skipped == 3  # two headers, one trailer


def test_header_carries_over_a_batch_boundary(tmp_path):
    lines = [h("A1", "M01")] + [d(f"S{i}", 1, 100) for i in range(3000)] + [t(3000, 3000)]
    rows, rep = read(tmp_path, lines, chunk_size=65536)  # 65 KiB: several batches
    assert len(rows) == 3000 and {r["ORDINE"] for r in rows} == {"A1"}
    assert rows[-1]["line"] == 3001


@pytest.mark.parametrize("trailer,why", [
    (t(2, 3), "NREC: expected 2 detail records, found 3"),
    (t(3, 9), "TOTQTA: expected 9, found 8 (sum of QTA)"),
])
def test_control_total_mismatch_rejects_the_file(tmp_path, trailer, why):
    lines = [h("A1", "M01"), d("SKU1", 2, 1000), d("SKU2", 1, 550), d("SKU3", 5, 1), trailer]
    with pytest.raises(RejectedFile, match=re.escape(why)) as e:
        read(tmp_path, lines)
    assert e.value.line == 5


def test_missing_trailer_means_truncated(tmp_path):
    with pytest.raises(RejectedFile, match="trailer .* is missing after the last 1 detail"):
        read(tmp_path, [h("A1", "M01"), d("SKU1", 2, 1000)])


def test_bad_rows_unknown_types_and_orphans(tmp_path):
    lines = [d("EARLY", 1, 1), h("A1", "M01"), d("SKU1", 2, 1000), "X what is this",
             d("SKU2", "x", 5), t(3, 3)]
    rows, rep = read(tmp_path, lines)
    assert [r["SKU"] for r in rows] == ["SKU1"]
    got = sorted((r.line, r.field) for r in rep.rejects())
    assert got == [(1, None), (4, "record type"), (5, "QTA")]
    assert rep.tally.read == rep.tally.rejected + rep.tally.skipped + len(rows)
