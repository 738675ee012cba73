#!/usr/bin/env python3
"""Writes the AS400 samples, deterministically:

- ARTICOLI_EBCDIC_20261127.bin: the article master as the IBM i holds it, copied
  byte for byte (FTP TYPE I): CCSID 1144 (Italian, with €), 94-byte records laid
  out by ../layouts/ARTICOLI.cpy: packed prices, zoned quantities, CYYMMDD dates.
  Record 7 has a corrupted packed price (sign nibble A) to show a reject.
- ORDINI_20261127.txt: web orders for the ERP's order entry, a multi-record
  fixed-width file: H header per order, D lines, T trailer with the record count
  and the total quantity.

Run: python samples/as400/make_as400.py
"""

from pathlib import Path

import ebcdic  # noqa: F401  (registers cp1144)

HERE = Path(__file__).resolve().parent
ARTICLES = [
    ("D23SJE0001", "506", "26", "8012345000005", "Jeans regular con coulisse bouclé", 20090, 97),
    ("D23SJE0001", "506", "27", "8012345000012", "Jeans regular con coulisse bouclé", 20090, 6),
    ("M24MA00017", "001", "S", "8012345000029", "Maglia girocollo in lana merino", 8990, 12),
    ("M24MA00017", "001", "M", "8012345000036", "Maglia girocollo in lana merino", 8990, 0),
    ("M24MA00017", "120", "M", "8012345000043", "Maglia girocollo - blu notte", 8990, -2),
    ("G25PE00003", "002", "48", "8012345000050", "Giacca in pelle è perfetta", 45900, 3),
    ("G25PE00003", "002", "50", "8012345000067", "Giacca in pelle è perfetta", 45900, 1),
    ("P25CH00108", "230", "44", "8012345000074", "Pantalone chino più comodo", 6950, 25),
    ("S26AC00044", "999", "TU", "8012345000081", "Sciarpa € 2026 così morbida", 2500, 40),
]


def packed(value: int, digits: int) -> bytes:
    """S9(digits) COMP-3: digits//2+1 bytes, sign nibble C or D."""
    text = str(abs(value)).rjust(digits + (1 - digits % 2), "0")
    return bytes.fromhex(text + ("d" if value < 0 else "c"))


def zoned(value: int, digits: int, signed: bool = True) -> bytes:
    text = str(abs(value)).rjust(digits, "0").encode("cp1144")
    if not signed:
        return text
    return text[:-1] + bytes([(0xD0 if value < 0 else 0xC0) | (text[-1] & 0x0F)])


def text(value: str, width: int) -> bytes:
    return value.ljust(width)[:width].encode("cp1144")


def article(a: tuple, changed: int) -> bytes:
    code, colour, size, ean, descr, cents, stock = a
    rec = (text(code, 10) + text(colour, 3) + text(size, 4) + text(ean, 13) +
           text(descr, 40) + packed(cents, 9) + zoned(stock, 7) +
           zoned(changed, 7, signed=False) + text("", 5))
    assert len(rec) == 94, len(rec)
    return rec


def articles() -> bytes:
    out = []
    for i, a in enumerate(ARTICLES):
        rec = bytearray(article(a, 1261101 + i))
        if i == 6:
            rec[74] = (rec[74] & 0xF0) | 0x0A  # corrupt the packed price's sign nibble
        out.append(bytes(rec))
    return b"".join(out)


def orders() -> str:
    lines, count, total = [], 0, 0
    web = [("W1001", "M01", "20261126", [("D23SJE0001-506-26", 1, 20090),
                                         ("M24MA00017-001-S", 2, 8990)]),
           ("W1002", "M01", "20261126", [("G25PE00003-002-48", 1, 45900)]),
           ("W1003", "NEG", "20261127", [("P25CH00108-230-44", 3, 6950),
                                         ("S26AC00044-999-TU", 1, 2500),
                                         ("M24MA00017-120-M", 1, 8990)])]
    for order, store, date, rows in web:
        lines.append(f"H{order:<8}{store:<3}{date}")
        for sku, qty, cents in rows:
            lines.append(f"D{sku:<20}{qty:0>5}{cents:0>9}")
            count, total = count + 1, total + qty
    lines.append(f"T{count:0>6}{total:0>9}")
    return "\r\n".join(lines) + "\r\n"


if __name__ == "__main__":
    (HERE / "ARTICOLI_EBCDIC_20261127.bin").write_bytes(articles())
    (HERE / "ORDINI_20261127.txt").write_bytes(orders().encode("cp1252"))
