"""JRecord's DTAR020 sample (store sales: COMP-3 keys, dates, quantities and prices).

JRecord (bmTas/JRecord) is LGPL-3, so its files are not committed here: this test
decodes records built from the values as400.md §3 verified on DTAR020. The
comparison with JRecord's own DTAR020.bin and DTAR020.csv (379 records x 6 fields,
0 mismatches when last run) needs a fetched copy of that repository and is run by
hand with bench/jrecord_dtar020.py, not by the suite.
"""

from decimal import Decimal
from pathlib import Path

from filebridge.readers.ebcdic import EbcdicOptions, EbcdicReader
from filebridge.records import FileReport

# The DTAR020 record layout (27 bytes), written out for these tests.
COPYBOOK = """\
       01  DTAR020.
           03  KCODE-STORE-KEY.
               05 KEYCODE-NO      PIC X(08).
               05 STORE-NO        PIC S9(03)   COMP-3.
           03  SALE-DATE          PIC S9(07)   COMP-3.
           03  DEPT-NO            PIC S9(03)   COMP-3.
           03  QTY-SOLD           PIC S9(9)    COMP-3.
           03  SALE-PRICE         PIC S9(9)V99 COMP-3.
"""


def read(tmp_path: Path, copybook: str, data: bytes) -> tuple[list[dict], FileReport]:
    (tmp_path / "DTAR020.cbl").write_text(copybook)
    (tmp_path / "DTAR020.bin").write_bytes(data)
    o = EbcdicOptions.model_validate({"format": "ebcdic", "encoding": "cp037",
                                      "layout": "DTAR020.cbl", "layout_names": "underscore"},
                                     context={"base": tmp_path})
    assert o.record_length == 27
    report = FileReport("DTAR020.bin")
    rows = [r for b in EbcdicReader(o).read(tmp_path / "DTAR020.bin", report)
            for r in b.rows()]
    return rows, report


def test_dtar020_like_records(tmp_path):
    # as400.md §3: STORE-NO 02 0C = 20, DATE 00 40 11 8C = 40118, QTY-SOLD
    # 00 00 00 00 1D = -1, SALE-PRICE 00 00 00 01 90 0C = 19.00.
    rec = ("69684558".encode("cp037") + bytes.fromhex("020C") + bytes.fromhex("0040118C") +
           bytes.fromhex("280C") + bytes.fromhex("000000001D") + bytes.fromhex("00000001900D"))
    rows, report = read(tmp_path, COPYBOOK, rec * 2)
    assert list(report.rejects()) == []
    assert rows[0] == {"KEYCODE_NO": "69684558", "STORE_NO": 20, "SALE_DATE": 40118,
                       "DEPT_NO": 280, "QTY_SOLD": -1, "SALE_PRICE": Decimal("-19.00")}
