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


COPYBOOK = """\
       01  REC.
           05 CODICE      PIC X(4).
           05 PREZZO      PIC S9(5).99.
           05 SCONTO      PIC S9(3).9 SIGN LEADING SEPARATE.
           05 NETTO       PIC 9(8)+.
           05 SALDO       PIC 9(5).99CR.
           05 PESO        COMP-2.
           05 TASSO       COMP-1.
           05 MILLE       PIC S9(5)PPP COMP-3.
           05 FRAZ        PIC PPP9(3) COMP-3.
           05 GRANDE      PIC S9(30) COMP.
"""


def as_ibm_double(value: float) -> bytes:
    """IBM hexadecimal double of a value (test helper: exact for these inputs)."""
    from fractions import Fraction

    if value == 0:
        return bytes(8)
    f, exp = abs(Fraction(value)), 64
    while f >= 1:
        f, exp = f / 16, exp + 1
    while f < Fraction(1, 16):
        f, exp = f * 16, exp - 1
    frac = round(f * 2 ** 56)
    return bytes([(0x80 if value < 0 else 0) | exp]) + frac.to_bytes(7, "big")


def cobol_record(code: str, prezzo: str, sconto: str, netto: str, saldo: str, peso: float,
                 tasso: bytes, mille: bytes, fraz: bytes, grande: int) -> bytes:
    def zoned_text(text: str, neg_last: bool) -> bytes:
        raw = bytearray(text.encode("cp037"))
        if neg_last:
            raw[-1] = 0xD0 | (raw[-1] & 0x0F)
        return bytes(raw)
    return (code.encode("cp037") + zoned_text(prezzo, prezzo.startswith("-"))[1:] +
            sconto.encode("cp037") + netto.encode("cp037") + saldo.encode("cp037") +
            as_ibm_double(peso) + tasso + mille + fraz +
            grande.to_bytes(13, "big", signed=True))


def test_copybook_items_test6_needed_decode_in_a_profile(tmp_path):
    (tmp_path / "REC.cpy").write_text(COPYBOOK)
    big = -123456789012345678901234567890
    records = [
        cobol_record("A001", "-12345.67", "+012.5", "00000012+", "00012.50CR", 19.99,
                     bytes.fromhex("C276A000"), bytes.fromhex("12345D"),
                     bytes.fromhex("123F"), big),
        cobol_record("A002", "-00000.01", "-001.0", "00000012-", "00012.50  ", -0.5,
                     bytes.fromhex("4019999A"), bytes.fromhex("00001C"),
                     bytes.fromhex("001F"), 7),
    ]
    p = tmp_path / "REC.bin"
    p.write_bytes(b"".join(records))
    o = EbcdicOptions.model_validate({"format": "ebcdic", "encoding": "cp037",
                                      "layout": "REC.cpy", "float_format": "ibm",
                                      "fields": {"PESO": {"scale": 2}}},
                                     context={"base": tmp_path})
    assert o.record_length == 4 + 8 + 6 + 9 + 10 + 8 + 4 + 3 + 2 + 13
    rep = FileReport(p.name)
    rows = [r for b in EbcdicReader(o).read(p, rep) for r in b.rows()]
    assert list(rep.rejects()) == []
    assert rows == [
        {"CODICE": "A001", "PREZZO": Decimal("-12345.67"), "SCONTO": Decimal("12.5"),
         "NETTO": 12, "SALDO": Decimal("-12.50"), "PESO": Decimal("19.99"),
         "TASSO": Decimal("-118.625000000"), "MILLE": -12345000, "FRAZ": Decimal("0.000123"),
         "GRANDE": big},
        {"CODICE": "A002", "PREZZO": Decimal("-0.01"), "SCONTO": Decimal("-1.0"),
         "NETTO": -12, "SALDO": Decimal("12.50"), "PESO": Decimal("-0.50"),
         "TASSO": Decimal("0.1"), "MILLE": 1000, "FRAZ": Decimal("0.000001"), "GRANDE": 7}]


def test_a_missing_point_or_two_signs_reject_the_row(tmp_path):
    (tmp_path / "REC.cpy").write_text(COPYBOOK)
    good = cobol_record("A001", "-12345.67", "+012.5", "00000012+", "00012.50CR", 1.0,
                        bytes(4), bytes.fromhex("00001C"), bytes.fromhex("001F"), 1)
    no_point = bytearray(good)
    no_point[4 + 5] = 0xF0  # the "." of PREZZO
    two_signs = good.replace("00000012+".encode("cp037"), "-0000012+".encode("cp037"))
    p = tmp_path / "REC.bin"
    p.write_bytes(good + bytes(no_point) + two_signs)
    o = EbcdicOptions.model_validate({"format": "ebcdic", "encoding": "cp037",
                                      "layout": "REC.cpy", "float_format": "ieee754"},
                                     context={"base": tmp_path})
    rep = FileReport(p.name)
    rows = [r for b in EbcdicReader(o).read(p, rep) for r in b.rows()]
    assert len(rows) == 1
    assert [(r.line, r.field) for r in rep.rejects()] == [(2, "PREZZO"), (3, "NETTO")]


def test_float_fields_need_a_float_format_and_record_length_comes_from_the_layout(tmp_path):
    (tmp_path / "REC.cpy").write_text(COPYBOOK)
    with pytest.raises(ValueError, match="float_format: ibm .* or ieee754"):
        EbcdicOptions.model_validate({"format": "ebcdic", "layout": "REC.cpy"},
                                     context={"base": tmp_path})
    with pytest.raises(ValueError, match="record_length is required"):
        EbcdicOptions.model_validate({"format": "ebcdic", "fields": FIELDS})
