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


def test_a_rejected_row_is_not_also_skipped(tmp_path):
    """Typed and filtered in one pass: a row whose field does not parse is a reject
    only, even where the filter would have left it out too."""
    p = tmp_path / "a.csv"
    p.write_text("T;Q\nD;1\nD;x\nH;2\nD;-3\nH;y\n", encoding="utf-8")
    rows, lines, rep = read(p, delimiter=";", fields={"Q": {"type": "integer"}},
                            filter=[{"field": "T", "equals": "D"}, {"field": "Q", "min": 0}])
    assert rows == [{"T": "D", "Q": 1}] and lines == [2]
    assert [(r.line, r.field) for r in rep.rejects()] == [(3, "Q"), (6, "Q")]
    t = rep.tally
    assert (t.read, t.rejected, t.skipped) == (5, 2, 2)
    assert t.read == t.rejected + t.skipped + len(rows)


def _articles(path: Path, n: int) -> None:
    path.write_bytes(("ART;DESC\n" + "".join(f"A{i:07d};Articolo {i} caffè\n"
                                              for i in range(n))).encode())


def test_arrow_reads_a_few_blocks_ahead_not_its_queue_of_32(tmp_path):
    """Arrow's reader thread fills a queue of 32 blocks (Python bytes objects) before
    the first batch is used; the stream holds it to a few blocks past the batches
    taken, so a reader's memory is a few blocks whatever the file's size."""
    import time
    import tracemalloc

    p = tmp_path / "a.csv"
    _articles(p, 120_000)  # 3.4 MB: 52 blocks of 64 KiB
    o = CsvOptions.model_validate({"format": "csv", "delimiter": ";", "chunk_size": 65536})
    tracemalloc.start()
    try:
        batches = CsvReader(o).read(p, FileReport(p.name))
        first = next(batches)
        time.sleep(0.5)  # a slow consumer: Arrow's thread has time to fill its queue
        held, _ = tracemalloc.get_traced_memory()
        for _ in batches:  # the rest, to the end of the file
            pass
    finally:
        tracemalloc.stop()
    assert len(first) > 1000
    assert held < 10 * 65536, f"{held} bytes held after the first batch"  # 35 blocks before


def test_a_file_of_many_blocks_reads_whole_and_in_order(tmp_path):
    p = tmp_path / "a.csv"
    _articles(p, 40_000)  # 18 blocks
    rows, lines, rep = read(p, delimiter=";", chunk_size=65536)
    assert [r["ART"] for r in rows] == [f"A{i:07d}" for i in range(40_000)]
    assert lines == list(range(2, 40_002)) and rep.tally.read == 40_000


def test_arrow_reads_what_it_needs_beyond_the_limit(tmp_path, monkeypatch):
    """Arrow needs the next block to finish a batch: with a limit of one block it
    still reads on while the reader waits for the batch (never a hang)."""
    from filebridge.readers import csv as csv_reader

    monkeypatch.setattr(csv_reader, "AHEAD", 1)
    p = tmp_path / "a.csv"
    _articles(p, 12_000)  # 6 blocks
    rows, _, _ = read(p, delimiter=";", chunk_size=65536)
    assert len(rows) == 12_000 and rows[-1]["ART"] == "A0011999"


def test_short_rows_in_every_block_are_rejected_on_their_lines(tmp_path):
    """Arrow finds a short row on the thread that parses ahead (filebridge/overlap.py);
    each is counted once, on its line, with the batch it came in, to the last line."""
    p = tmp_path / "a.csv"
    lines = ["ART;DESC"]
    for i in range(30_000):
        lines.append(f"A{i:07d}" if i % 997 == 0 else f"A{i:07d};Articolo {i}")
    lines += ["X" * 30] * 3_000  # the last blocks hold no full row
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows, got, rep = read(p, delimiter=";", chunk_size=65536)
    short = [i for i in range(30_000) if i % 997 == 0]
    short += range(30_000, 33_000)
    assert sorted(r.line for r in rep.rejects()) == [i + 2 for i in short]
    assert got == [i + 2 for i in range(30_000) if i % 997]
    assert rep.tally.read == 33_000 and rep.tally.rejected == len(short)
    assert rep.tally.read == rep.tally.rejected + len(rows)


def test_a_reader_left_half_way_leaves_no_thread_behind(tmp_path):
    import threading

    p = tmp_path / "a.csv"
    _articles(p, 120_000)
    o = CsvOptions.model_validate({"format": "csv", "delimiter": ";", "chunk_size": 65536})
    batches = CsvReader(o).read(p, FileReport(p.name))
    assert len(next(batches)) > 1000
    assert any(t.name == "parse a.csv" for t in threading.enumerate())
    batches.close()  # type: ignore[attr-defined]  # the pipeline stopped (a sink failed): the parse stops too
    assert not any(t.name == "parse a.csv" for t in threading.enumerate())
