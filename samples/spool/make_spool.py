"""Writes the sample spool report the spool profile and its tests read.

    python samples/spool/make_spool.py

The report looks like what CPYSPLF CTLCHAR(*FCFC) followed by CPYTOSTMF produces
from an RPG stock listing "SITUAZIONE GIACENZE PER MAGAZZINO". Each line has 133
columns: the FCFC control character, then 132 printed columns. The file is cp1252
with CRLF line ends. It has 3 pages, each with a 3-line header, column titles and
a rule. There are group headings per warehouse (repeated with "(segue)" on a new
page), quantities and values edited the Italian way (1.234 / 12.345,67 / 5-), a
subtotal per warehouse, a grand total, and the end marker.

Deterministic: no randomness, no clock, so the committed file is byte for byte
what this script writes.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "GIACENZE_SPOOL_20261127.txt"
WIDTH = 132
LINES_PER_PAGE = 18  # printed lines below the header and titles

# Warehouse -> name, then (article, colour, size, description, quantity, unit cost).
# A quantity of None prints blank: edit code Z suppresses a zero.
STOCK = {
    ("01", "SEDE MILANO"): [
        ("D25FW0101", "001", "S", "MAGLIA GIROCOLLO IN LANA MERINO", 12, "31.40"),
        ("D25FW0101", "001", "M", "MAGLIA GIROCOLLO IN LANA MERINO", 1234, "31.40"),
        ("D25FW0101", "802", "L", "MAGLIA GIROCOLLO IN LANA MERINO", 7, "31.40"),
        ("D25FW0102", "230", "42", "CAPPOTTO CAMMELLO DOPPIOPETTO", 3, "112.75"),
        ("D25FW0102", "230", "44", "CAPPOTTO CAMMELLO DOPPIOPETTO", -5, "112.75"),
        ("D25FW0103", "905", "U", "SCIALLE ÉCRU IN CACHEMIRE", 41, "48.10"),
        ("U25FW0201", "506", "48", "GIACCA IN PELLE È PERFETTA", 2, "189.00"),
        ("U25FW0201", "506", "50", "GIACCA IN PELLE È PERFETTA", 4, "189.00"),
        ("U25FW0202", "120", "M", "CAMICIA OXFORD TESTA DI MORO", 18, "22.35"),
        ("U25FW0202", "120", "L", "CAMICIA OXFORD TESTA DI MORO", 20, "22.35"),
        ("U25FW0203", "001", "32", "PANTALONE CHINO PIÙ COMODO", 25, "27.90"),
        ("U25FW0203", "001", "34", "PANTALONE CHINO PIÙ COMODO", None, "27.90"),
        ("B26SS0301", "310", "6A", "FELPA BAMBINO CON ZIP – ROSSA", 36, "14.20"),
        ("B26SS0301", "310", "8A", "FELPA BAMBINO CON ZIP – ROSSA", 29, "14.20"),
        ("B26SS0302", "610", "10A", "T-SHIRT CELESTE COTONE BIO", 150, "4.85"),
        ("B26SS0302", "610", "12A", "T-SHIRT CELESTE COTONE BIO", 1, "4.85"),
        ("D26SS0401", "620", "S", "ABITO LINO VERDE SALVIA", 9, "57.60"),
        ("D26SS0401", "620", "M", "ABITO LINO VERDE SALVIA", 11, "57.60"),
        ("D26SS0401", "620", "L", "ABITO LINO VERDE SALVIA", 6, "57.60"),
        ("D26SS0402", "101", "38", "CAMICETTA BIANCA CON PIZZO", 14, "33.05"),
    ],
    ("02", "OUTLET SERRAVALLE"): [
        ("D25FW0101", "001", "S", "MAGLIA GIROCOLLO IN LANA MERINO", 58, "31.40"),
        ("D25FW0102", "230", "46", "CAPPOTTO CAMMELLO DOPPIOPETTO", 2, "112.75"),
        ("D25FW0103", "905", "U", "SCIALLE ÉCRU IN CACHEMIRE", 1, "48.10"),
        ("U25FW0201", "506", "52", "GIACCA IN PELLE È PERFETTA", -1, "189.00"),
        ("U25FW0202", "120", "XL", "CAMICIA OXFORD TESTA DI MORO", 66, "22.35"),
        ("U25FW0203", "001", "36", "PANTALONE CHINO PIÙ COMODO", 12, "27.90"),
        ("B26SS0302", "610", "14A", "T-SHIRT CELESTE COTONE BIO", 2450, "4.85"),
        ("D26SS0402", "101", "40", "CAMICETTA BIANCA CON PIZZO", 8, "33.05"),
        ("D26SS0402", "101", "42", "CAMICETTA BIANCA CON PIZZO", 5, "33.05"),
    ],
    ("03", "E-COMMERCE BOLOGNA"): [
        ("D25FW0101", "802", "M", "MAGLIA GIROCOLLO IN LANA MERINO", 140, "31.40"),
        ("D25FW0101", "802", "L", "MAGLIA GIROCOLLO IN LANA MERINO", 96, "31.40"),
        ("D25FW0103", "905", "U", "SCIALLE ÉCRU IN CACHEMIRE", 310, "48.10"),
        ("U25FW0201", "506", "48", "GIACCA IN PELLE È PERFETTA", 27, "189.00"),
        ("U25FW0202", "120", "M", "CAMICIA OXFORD TESTA DI MORO", 402, "22.35"),
        ("B26SS0301", "310", "8A", "FELPA BAMBINO CON ZIP – ROSSA", 75, "14.20"),
        ("B26SS0302", "610", "10A", "T-SHIRT CELESTE COTONE BIO", 12480, "4.85"),
        ("D26SS0401", "620", "M", "ABITO LINO VERDE SALVIA", -2, "57.60"),
        ("D26SS0402", "101", "38", "CAMICETTA BIANCA CON PIZZO", 63, "33.05"),
    ],
}

TITLES = (f"{'Articolo':<10} {'Col':<3}  {'Tg.':<4}  {'Descrizione':<40} {'Giacenza':>11}  "
          f"{'Valore':>15}")


def edit(value: Decimal | int | None, decimals: int) -> str:
    """RPG edit code J the Italian way (QDECFMT J): 1.234,56 and a trailing minus."""
    if value is None:
        return ""
    text = format(abs(Decimal(value)), f",.{decimals}f")
    text = text.replace(",", " ").replace(".", ",").replace(" ", ".")
    return text + ("-" if value < 0 else " ")  # the sign has its own position


def detail(art: str, col: str, size: str, desc: str, qty: int | None, value: Decimal | None
           ) -> str:
    # Columns: article 1-10, colour 12-14, size 17-20, description 23-62,
    # quantity 64-75 and value 77-92, right-aligned, the last position for the sign.
    return (f"{art:<10} {col:<3}  {size:<4}  {desc:<40} {edit(qty, 0):>12} "
            f"{edit(value, 2):>16}")


def total(label: str, qty: int, value: Decimal) -> str:
    return f"{label:<62} {edit(qty, 0):>12} {edit(value, 2):>16}"


def header(page: int) -> list[str]:
    return ["1" + f"{'MODA ITALIA S.P.A.':<60}{'GIA010R':>60}{'PAG.':>8}{page:>4}",
            " " + f"{'SITUAZIONE GIACENZE PER MAGAZZINO':<100}{'DATA 27/11/26':>32}",
            "+" + f"{'SITUAZIONE GIACENZE PER MAGAZZINO':<100}",  # bold: overprinted
            " " + f"{'Elaborazione notturna - valori a costo medio ponderato':<100}"
            f"{'ORA 21:30:15':>32}",
            "0" + TITLES,
            " " + "-" * WIDTH]


def report() -> list[str]:
    lines: list[str] = []
    page = 0
    used = LINES_PER_PAGE  # forces the first page

    def emit(cc: str, text: str, heading: str | None) -> None:
        nonlocal page, used
        if used >= LINES_PER_PAGE:
            page += 1
            lines.extend(header(page))
            used = 0
            if heading is not None and not text.startswith("Magazzino"):
                lines.append("0" + heading + " (segue)")
                used += 1
        lines.append(cc + text)
        used += 1

    grand_qty, grand_value = 0, Decimal(0)
    for (code, name), rows in STOCK.items():
        heading = f"Magazzino: {code} - {name}"
        emit("0", heading, heading)
        qty_sum, value_sum = 0, Decimal(0)
        for art, col, size, desc, qty, cost in rows:
            value = None if qty is None else (qty * Decimal(cost)).quantize(Decimal("0.01"))
            emit(" ", detail(art, col, size, desc, qty, value), heading)
            qty_sum += qty or 0
            value_sum += value or 0
        emit("0", total(f"TOTALE MAGAZZINO {code}", qty_sum, value_sum), heading)
        grand_qty, grand_value = grand_qty + qty_sum, grand_value + value_sum
    emit("-", total("TOTALE GENERALE", grand_qty, grand_value), None)
    lines.append("+" + " " * 63 + "_" * 12 + " " + "_" * 16)  # underline by overprint
    lines.append("0" + " " * 55 + "*** FINE STAMPA ***")
    return [line[:1 + WIDTH].ljust(1 + WIDTH) for line in lines]


def main() -> None:
    OUT.write_bytes(("\r\n".join(report()) + "\r\n").encode("cp1252"))


if __name__ == "__main__":
    main()
