"""Binary EBCDIC records: cut by length, text per field in its code page, packed,
zoned and binary numbers exact, malformed numbers rejected with their bytes."""

import datetime as dt
from decimal import Decimal

import ebcdic  # noqa: F401  (cp1144, cp280)
import pytest

from filebridge.errors import RejectedFile
from filebridge.readers.ebcdic import EbcdicOptions, EbcdicReader
from filebridge.records import FileReport

FIELDS = {
    "CODART": {"start": 1, "length": 6},
    "DESCR": {"start": 7, "length": 12},
    "PREZZO": {"start": 19, "length": 5, "type": "decimal", "scale": 2, "storage": "packed"},
    "QTA": {"start": 24, "length": 4, "type": "integer", "storage": "zoned"},
    "DATA": {"start": 28, "length": 4, "type": "date", "format": "*CYMD",
             "storage": "packed"},
    "PESO": {"start": 32, "length": 2, "type": "integer", "storage": "binary"},
}
LRECL = 33


def packed(value: int, length: int) -> bytes:
    digits = str(abs(value)).rjust(length * 2 - 1, "0")
    return bytes.fromhex(digits + ("d" if value < 0 else "c"))


def zoned(value: int, length: int) -> bytes:
    digits = str(abs(value)).rjust(length, "0").encode("cp037")
    last = (0xD0 if value < 0 else 0xC0) | (digits[-1] & 0x0F)
    return digits[:-1] + bytes([last])


def record(art, descr, cents, qty, date, weight):
    return (art.ljust(6).encode("cp1144") + descr.ljust(12).encode("cp1144") +
            packed(cents, 5) + zoned(qty, 4) + packed(date, 4) +
            weight.to_bytes(2, "big", signed=True))


def read(path, **opts):
    o = EbcdicOptions.model_validate({"format": "ebcdic", "encoding": "cp1144",
                                      "record_length": LRECL, "fields": FIELDS, **opts})
    rep = FileReport(path.name)
    rows, lines = [], []
    for b in EbcdicReader(o).read(path, rep):
        rows += b.rows()
        lines += b.lines.to_pylist()
    return rows, lines, rep


def test_cp1144_record_with_packed_zoned_binary_and_date(tmp_path):
    p = tmp_path / "ART.bin"
    # 0x15 and 0x25 inside packed fields must not be taken for line ends
    p.write_bytes(record("A1", "Perché €", 15250, -12, 1240315, 250) +
                  record("B2", "Più è", 100, 7, 0, -3))
    assert b"\x15\x25" in p.read_bytes()
    rows, lines, rep = read(p, batch_records=1)
    assert rows == [
        {"CODART": "A1", "DESCR": "Perché €", "PREZZO": Decimal("152.50"), "QTA": -12,
         "DATA": dt.date(2024, 3, 15), "PESO": 250},
        {"CODART": "B2", "DESCR": "Più è", "PREZZO": Decimal("1.00"), "QTA": 7,
         "DATA": None, "PESO": -3}]
    assert lines == [1, 2] and rep.tally.read == 2


def test_malformed_packed_rejects_the_row_with_hex(tmp_path):
    good = record("A1", "ok", 100, 1, 1240315, 1)
    bad = bytearray(record("A2", "bad", 100, 1, 1240315, 1))
    bad[22] = 0x1A  # sign nibble A in the last packed byte: not tolerated by default
    p = tmp_path / "ART.bin"
    p.write_bytes(good + bytes(bad))
    rows, _, rep = read(p)
    assert [r["CODART"] for r in rows] == ["A1"]
    (rej,) = list(rep.rejects())
    assert (rej.line, rej.field) == (2, "PREZZO")
    assert "00 00 00 10 1A" in rej.reason and rej.values["CODART"] == "A2"


def test_italian_page_differs_from_us(tmp_path):
    p = tmp_path / "ART.bin"
    p.write_bytes(record("A1", "àèé", 1, 1, 1240315, 1))
    rows, _, _ = read(p)
    assert rows[0]["DESCR"] == "àèé"
    rows, _, _ = read(p, encoding="cp037")
    assert rows[0]["DESCR"] != "àèé"  # the same bytes are { } ! on a US page


def test_truncated_file_is_rejected(tmp_path):
    p = tmp_path / "ART.bin"
    p.write_bytes(record("A1", "x", 1, 1, 1240315, 1)[:-3])
    with pytest.raises(RejectedFile, match="not a whole number of 33-byte records"):
        read(p)


def test_broken_ms_code_pages_are_refused():
    with pytest.raises(ValueError, match="broken"):
        EbcdicOptions.model_validate({"format": "ebcdic", "encoding": "cp1148ms",
                                      "record_length": LRECL, "fields": FIELDS})
