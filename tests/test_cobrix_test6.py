"""cobrix's test6 (COBOL type variety), decoded with its unmodified copybook and
compared with what cobrix's own integration test expects, field by field.

Data: tests/data/cobrix (Apache-2.0, see its README). The expectation is cobrix's
``Test6TypeVarietySpec``: Spark JSON with ``floating_point_format: IEEE754`` and
nulls filled with 0, so a null of ours only matches a 0 there; numbers are compared
as exact decimals (the JSON is read with ``parse_float=Decimal``), text with its
trailing blanks trimmed (cobrix trims both ends by default, we keep leading blanks:
no test6 text has any).
"""

import gzip
import json
import re
from decimal import Decimal
from pathlib import Path

from filebridge.layouts.copybook import compile_copybook
from filebridge.readers.ebcdic import EbcdicOptions, EbcdicReader
from filebridge.records import FileReport

DATA = Path(__file__).parent / "data" / "cobrix"
COPYBOOK = DATA / "test6_copybook.cob"


def expected_records() -> list[dict]:
    with gzip.open(DATA / "test6.txt.gz", "rt", encoding="latin-1") as f:
        return [json.loads(line, parse_float=Decimal) for line in f]


def test_layout_matches_cobrix_position_by_position():
    text = COPYBOOK.read_text(encoding="latin-1")
    layout = compile_copybook(text, names="underscore")
    expected = {}
    for line in (DATA / "test6_layout.txt").read_text(encoding="latin-1").splitlines():
        if m := re.match(r"\s+10 (\S+)\s+\d+\s+(\d+)\s+\d+\s+(\d+)$", line):
            expected[m[1]] = (int(m[2]), int(m[3]))
    assert len(expected) == 195
    assert {n: (f.start, f.length) for n, f in layout.fields.items()} == expected
    assert layout.record_length == 1493


def test_every_field_of_every_record_matches_cobrix():
    o = EbcdicOptions.model_validate(
        {"format": "ebcdic", "encoding": "cp037", "layout": str(COPYBOOK),
         "layout_names": "underscore", "float_format": "ieee754", "batch_records": 32})
    assert o.record_length == 1493  # from the layout: the profile need not say it
    report = FileReport("INTEGR.TYPES.NOV28.DATA.dat")
    rows = []
    for batch in EbcdicReader(o).read(DATA / "INTEGR.TYPES.NOV28.DATA.dat", report):
        rows += batch.rows()
    assert list(report.rejects()) == [] and report.tally.read == 100
    expected = expected_records()
    assert [r["ID"] for r in rows] == [e["ID"] for e in expected] == list(range(1, 101))
    compared, mismatches = 0, []
    for got, want in zip(rows, expected, strict=True):
        assert set(got) == set(want)
        for name, value in want.items():
            compared += 1
            ours = got[name]
            if isinstance(value, str):
                same = isinstance(ours, str) and ours.rstrip() == value.rstrip()
            elif ours is None:
                same = value == 0  # cobrix's na.fill(0)
            else:
                same = Decimal(ours) == Decimal(value)
            if not same:
                mismatches.append((got["ID"], name, ours, value))
    assert compared == 19_500
    assert mismatches == []
    # Spot checks of what test6 needed replaced before: decoded, not just equal.
    first = rows[0]
    assert first["FLOAT_01"] == Decimal("-30503.93")  # COMP-1, shortest float32
    assert first["DOUBLE_01"] == Decimal("-3050393257.6762")  # COMP-2
    assert first["NUM_BIN_INT03"] == 305  # COMP-0
    assert first["NUM_SBIN_SINT14"] == -3050393257676267687078781717600592714  # 16 bytes
    assert first["COMMON_UPC5DDC"] == Decimal("0.00030503")  # PPP9(5)
    assert first["COMMON_UPI10BIN"] == 3050393257000  # S9(10)PPP
    assert first["NUM_STR_EDEC03"] == Decimal("-305.03")  # S9(3).99, overpunch after "."
    assert first["NUM_SL_STR_DEC01"] == Decimal("-30.50")  # 99V99 SIGN LEADING SEPARATE
    assert rows[1]["EX_NUM_INT02"] == 78449737  # PIC 9(8)+ holding 78449737+
