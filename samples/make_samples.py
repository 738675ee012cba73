"""Writes the sample input files the demo and the sample tests use.

    python samples/make_samples.py

Deterministic: no randomness, no clock, so the committed files are byte for byte
what this script writes. The catalog is a small Italian fashion one (article ×
colour × size, EAN-13 with valid check digits) plus a new home department.
Every sample holds a few rows that are bad on purpose, so the demo shows rejects:
a wrong EAN check digit, a price that is not a number, an unknown colour code.
collezione/ is a spreadsheet as IT makes one for a new collection: a merged title,
a notes sheet and a hidden list sheet, prices and sale dates both as cells and as
typed text, EANs stored as numbers with a 13-zero format, a blank row, a row
pasted twice.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

HERE = Path(__file__).resolve().parent


def ean13(first12: str) -> str:
    """The 12 digits plus their GS1 check digit."""
    assert len(first12) == 12 and first12.isdigit(), first12
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def bad_check_digit(code: str) -> str:
    return code[:12] + str((int(code[12]) + 1) % 10)


COLOURS = {  # code -> name, the ERP's colour table (samples/articoli/colori.csv)
    "001": "Nero", "101": "Bianco", "120": "Testa di moro", "230": "Cammello",
    "310": "Rosso", "506": "Blu notte", "610": "Celeste", "620": "Verde salvia",
    "740": "Sabbia", "802": "Grigio mélange", "905": "Écru",
}

# article, description (as typed in the ERP), season, department, category,
# price in cents, colours, sizes. 80 = GS1 Italy, 12345 = the company prefix.
ARTICLES = [
    ("D25FW0101", "MAGLIA GIROCOLLO IN LANA MERINO", "FW25", "DONNA", "MAGLIERIA", 8990,
     ["001", "506"], ["XS", "S", "M", "L"]),
    ("U25FW0207", "GIACCA IN PELLE È PERFETTA", "FW25", "UOMO", "CAPISPALLA", 34900,
     ["001", "120"], ["48", "50", "52"]),
    ("U26SS0310", "Pantalone chino", "SS26", "UOMO", "PANTALONI", 4990,
     ["740", "506"], ["46", "48", "50", "52"]),
    ("D26SS0415", "Camicia in lino a righe", "SS26", "DONNA", "CAMICIE", 6900,
     ["101", "610"], ["40", "42", "44"]),
    ("B26SS0520", "T-SHIRT CON STAMPA \"CITTÀ\"", "SS26", "BAMBINO", "T-SHIRT", 1990,
     ["310", "620"], ["4A", "6A", "8A"]),
    ("D25FW0612", "Sciarpa in cachemire – tinta unita", "FW25", "DONNA", "ACCESSORI", 12900,
     ["230", "802"], ["TU"]),
]


def catalog() -> list[dict]:
    """One dict per SKU, in ERP order, with the stock the nightly export shows."""
    rows, n = [], 0
    for art, descr, season, dept, cat, cents, colours, sizes in ARTICLES:
        for colour in colours:
            for size in sizes:
                n += 1
                stock = (n * 7) % 23 if n % 5 else 0
                rows.append({"article": art, "colour": colour, "size": size,
                             "ean": ean13(f"8012345{n:05d}"), "descr": descr,
                             "season": season, "dept": dept, "cat": cat, "cents": cents,
                             "stock": stock, "wh": "M01" if n % 4 else "NEG",
                             "changed": dt.date(2026, 11, 1 + n % 26),
                             "line": "CAPSULE" if art == "D25FW0612" else ""})
    return rows


def cyymmdd(d: dt.date) -> str:
    return f"{(d.year - 1900) // 100}{d:%y%m%d}"


# ---------------------------------------------------------------- (a) fixed-width

FIXED = [  # name, start, length: the layout in profiles/articoli-shopify.yaml
    ("CODART", 1, 10), ("COLORE", 11, 3), ("TAGLIA", 14, 4), ("EAN", 18, 13),
    ("DESCRIZIONE", 31, 40), ("STAGIONE", 71, 4), ("REPARTO", 75, 10),
    ("CATEGORIA", 85, 12), ("PREZZO", 97, 9), ("GIACENZA", 106, 7), ("MAGAZZINO", 113, 3),
    ("DTULTMOD", 116, 7), ("LINEA", 123, 8),
]
RECORD_LENGTH = 130


def fixed_record(r: dict) -> str:
    price = r.get("price_text") or f"{r['cents']:09d}"
    stock = f"-{-r['stock']:06d}" if r["stock"] < 0 else f"{r['stock']:07d}"
    values = {"CODART": r["article"], "COLORE": r["colour"], "TAGLIA": r["size"],
              "EAN": r["ean"], "DESCRIZIONE": r["descr"], "STAGIONE": r["season"],
              "REPARTO": r["dept"], "CATEGORIA": r["cat"], "PREZZO": price,
              "GIACENZA": stock, "MAGAZZINO": r["wh"], "DTULTMOD": cyymmdd(r["changed"]),
              "LINEA": r["line"]}
    text = "".join(values[name][:length].ljust(length) for name, _, length in FIXED)
    assert len(text) == RECORD_LENGTH
    # FTP in ASCII mode drops trailing blanks: records without LINEA arrive short.
    return text.rstrip(" ")


def articoli() -> list[dict]:
    rows = catalog()
    rows[3]["stock"] = -2  # a negative stock (sold before the goods arrived)
    by_sku = {(r["article"], r["colour"], r["size"]): i for i, r in enumerate(rows)}
    # The deliberately bad rows, each placed after its article's other sizes.
    bad = [
        (by_sku["B26SS0520", "310", "8A"], dict(  # price with a typed comma
            rows[by_sku["B26SS0520", "310", "8A"]], size="10A", ean=ean13("801234500902"),
            price_text="000019,90")),
        (by_sku["D26SS0415", "101", "44"], dict(  # EAN with a wrong check digit
            rows[by_sku["D26SS0415", "101", "44"]], size="46",
            ean=bad_check_digit(ean13("801234500901")))),
        (by_sku["U26SS0310", "506", "52"], dict(  # colour 999 is not in colori.csv
            rows[by_sku["U26SS0310", "506", "52"]], colour="999", size="48",
            ean=ean13("801234500903"))),
    ]
    for after, row in sorted(bad, key=lambda b: -b[0]):
        rows.insert(after + 1, row)
    return rows


def write_articoli(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [fixed_record(r) for r in articoli()]
    (folder / "ARTICOLI_20261127.txt").write_bytes(
        ("\r\n".join(lines) + "\r\n").encode("cp1252"))
    table = "code,value\n" + "".join(f"{k},{v}\n" for k, v in COLOURS.items())
    (folder / "colori.csv").write_text(table, encoding="utf-8", newline="")


# ---------------------------------------------------------------- (b) ; CSV

def write_giacenze(folder: Path) -> None:
    """CPYTOIMPF FLDDLM(';') DECPNT(*COMMA) STRDLM(*DBLQUOTE) RMVBLANK(*TRAILING)
    ADDCOLNAM(*SQL) STMFCCSID(*PCASCII): text fields quoted, numbers not."""
    folder.mkdir(parents=True, exist_ok=True)
    head = "CODART;COLORE;TAGLIA;EAN;DESCRIZIONE;PREZZO;GIACENZA;MAGAZZINO;DATA_AGG"
    rows = [r for r in catalog() if r["size"] in ("S", "M", "48", "50", "42", "6A", "TU")]
    descr = {"U26SS0310": "Pantalone chino; vestibilità slim",  # a ; inside quotes
             "D26SS0415": "Camicia in lino a righe\ncollo alla coreana"}  # Alt+Enter in Excel
    extra = [  # a coat over a thousand euro: thousands separator
        {"article": "D25FW0750", "colour": "905", "size": "42", "ean": ean13("801234500750"),
         "descr": "Cappotto doppiopetto in cashmere", "cents": 124900, "stock": 3, "wh": "M01"},
        {"article": "D25FW0750", "colour": "905", "size": "44", "ean": ean13("801234500751"),
         "descr": "Cappotto doppiopetto in cashmere", "cents": 124900, "stock": 0, "wh": "M01"},
    ]
    rows = rows + extra

    def price(cents: int) -> str:
        euros, c = divmod(cents, 100)
        return f"{euros:,}".replace(",", ".") + f",{c:02d}"

    def line(r: dict, price_text: str | None = None) -> str:
        d = descr.get(r["article"], r["descr"]).replace('"', '""')
        return ";".join([f'"{r["article"]}"', f'"{r["colour"]}"', f'"{r["size"]}"',
                         f'"{r["ean"]}"', f'"{d}"', price_text or price(r["cents"]),
                         str(r["stock"]), f'"{r["wh"]}"', "27.11.2026"])

    # The deliberately bad rows, each after its article's rows and after the quoted
    # line break, so their reported line numbers must count it.
    tshirt = next(r for r in rows if r["article"] == "B26SS0520")
    sciarpa = next(r for r in rows if r["article"] == "D25FW0612")
    bad = {
        "B26SS0520": line(dict(tshirt, size="10A", ean=bad_check_digit(ean13("801234500910")))),
        "D25FW0612": line(dict(sciarpa, colour="999", ean=ean13("801234500912"))),
        "D25FW0750": line(dict(extra[0], size="46", ean=ean13("801234500911")), "n.d."),
    }
    out = [head]
    for i, r in enumerate(rows):
        out.append(line(r))
        if r["article"] in bad and (i + 1 == len(rows) or rows[i + 1]["article"] != r["article"]):
            out.append(bad[r["article"]])
    (folder / "GIACENZE_20261127.csv").write_bytes(("\r\n".join(out) + "\r\n").encode("cp1252"))


# ---------------------------------------------------------------- (c) XML from the 3PL

def write_magazzino(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i, r in enumerate(catalog()[::2]):
        sku = f"{r['article']}-{r['colour']}-{r['size']}"
        qty, reserved = str(r["stock"] + 5), str(i % 3)
        loc = f"{'ABC'[i % 3]}-{i // 3 + 1:02d}-{(i * 7) % 40 + 1:02d}"
        if i == 6:
            qty = "dodici"  # not a number
        items.append((sku, r["ean"], qty, reserved, loc))
    items.insert(9, ("D25FW0101-001-XL", bad_check_digit(ean13("801234500920")), "4", "0",
                     "B-04-18"))
    items.insert(15, ("U26SS0310-999-48", ean13("801234500921"), "7", "1", "C-06-02"))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           "<!-- Stock snapshot from Logistica Veneta S.r.l. (3PL), warehouse Padova -->",
           '<StockReport xmlns="urn:logisticaveneta:wms:stock:2" warehouse="LV-PD01"'
           ' generated="2026-11-27T05:30:00+01:00">',
           "  <Header>",
           "    <Client>MODA ITALIA SPA</Client>",
           f"    <ItemCount>{len(items)}</ItemCount>",
           "  </Header>",
           "  <Items>"]
    for sku, ean, qty, reserved, loc in items:
        out += [f'    <Item sku="{sku}">',
                f"      <Ean>{ean}</Ean>",
                f"      <Qty>{qty}</Qty>",
                f"      <Reserved>{reserved}</Reserved>",
                f'      <Location code="{loc}"/>',
                "    </Item>"]
    out += ["  </Items>", "</StockReport>"]
    (folder / "STOCK_20261127.xml").write_text("\n".join(out) + "\n", encoding="utf-8",
                                               newline="")


# ---------------------------------------------------------------- (d) spreadsheet

HOME = [  # code, colour, size, EAN (text), description, category, price, stock
    ("C26SS0801", "905", "140x180", ean13("001234560801"), "Tovaglia in lino lavato",
     "TOVAGLIE", 59.0, 12),
    ("C26SS0801", "905", "140x240", ean13("001234560802"), "Tovaglia in lino lavato",
     "TOVAGLIE", 69.0, 8),
    ("C26SS0801", "620", "140x180", ean13("001234560803"), "Tovaglia in lino lavato",
     "TOVAGLIE", 59.0, 5),
    ("C26SS0801", "620", "140x240", ean13("001234560804"), "Tovaglia in lino lavato",
     "TOVAGLIE", 69.0, 0),
    ("C26SS0802", "905", "45x45", ean13("801234560805"), "Set 6 tovaglioli in cotone",
     "TOVAGLIE", 24.9, 30),
    ("C26SS0810", "506", "40x40", ean13("001234560810"), "Cuscino in velluto a coste",
     "CUSCINI", 34.5, 14),
    ("C26SS0810", "506", "50x50", ean13("001234560811"), "Cuscino in velluto a coste",
     "CUSCINI", 39.5, 9),
    ("C26SS0810", "230", "40x40", ean13("001234560812"), "Cuscino in velluto a coste",
     "CUSCINI", 34.5, 11),
    ("C26SS0810", "230", "50x50", ean13("001234560813"), "Cuscino in velluto a coste",
     "CUSCINI", 39.5, 0),
    ("C26SS0815", "802", "130x170", ean13("001234560815"), "Plaid in lana cotta - grigio",
     "PLAID", 89.0, 6),
    ("C26SS0820", "101", "40x150", ean13("001234560820"), "Runner da tavola ricamato à jour",
     "TOVAGLIE", 45.0, 7),
    ("C26SS0820", "101", "40x200", ean13("001234560821"), "Runner da tavola ricamato à jour",
     "TOVAGLIE", 52.0, 4),
]
SHEET_HEADER = ["Codice articolo", "Colore", "Misura", "EAN", "Descrizione", "Categoria",
                "Prezzo", "Giacenza", "Disponibile dal"]
SHEET_TITLE = "NUOVO REPARTO CASA - primavera/estate 2026 (a cura dell'Ufficio IT)"


def write_reparto(folder: Path) -> None:
    import xlsxwriter  # writes reproducible files (fixed zip timestamps)

    folder.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(folder / "NUOVO_REPARTO_CASA.xlsx"))
    wb.set_properties({"title": "Nuovo reparto Casa", "author": "Ufficio IT",
                       "created": dt.datetime(2026, 11, 27, 9, 0, 0)})
    ws = wb.add_worksheet("Casa")
    bold = wb.add_format({"bold": True})
    money = wb.add_format({"num_format": "#,##0.00 [$€-410]"})
    day = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write_string(0, 0, SHEET_TITLE, bold)  # title row; the header is on row 3
    for c, name in enumerate(SHEET_HEADER):
        ws.write_string(2, c, name, bold)
    rows = list(HOME)
    rows.insert(4, ("C26SS0801", "905", "180x300", bad_check_digit(ean13("001234560806")),
                    "Tovaglia in lino lavato", "TOVAGLIE", 89.0, 2))
    rows.insert(9, ("C26SS0810", "777", "40x40", ean13("001234560814"),
                    "Cuscino in velluto a coste", "CUSCINI", 34.5, 3))
    rows.append(("C26SS0825", "001", "50x70", ean13("001234560825"), "Federa in percalle",
                 "CUSCINI", "da definire", 10))
    for i, (code, colour, size, ean, descr, cat, price, stock) in enumerate(rows):
        r = 3 + i
        ws.write_string(r, 0, code)
        ws.write_string(r, 1, colour)
        ws.write_string(r, 2, size)
        if ean.startswith("8"):
            ws.write_number(r, 3, int(ean))  # someone typed this EAN as a number
        else:
            ws.write_string(r, 3, ean)  # text: the leading zeros stay
        ws.write_string(r, 4, descr)
        ws.write_string(r, 5, cat)
        if isinstance(price, str):
            ws.write_string(r, 6, price)
        else:
            ws.write_number(r, 6, price, money)
        ws.write_number(r, 7, stock)
        ws.write_datetime(r, 8, dt.datetime(2026, 3, 2 + i % 3 * 7), day)
    ws.set_column(0, 0, 16)
    ws.set_column(3, 4, 32)
    wb.close()


# ---------------------------------------------------------------- (e) a messy xlsx

# A new collection as the IT office types it: article, colours, sizes, list price,
# sale price (or None), and how each is written. Prices and dates come both as
# cells and as typed text, as happens when rows are pasted from several sources.
COLLECTION = [
    # article, description, colours, sizes, price, sale price, first EAN number
    ("D26FW0101", "Cappotto in lana cotta", ["001", "230"], ["40", "42", "44", "46"],
     "1250.00", "990.00", 100),
    ("D26FW0102", "Maglia dolcevita in cachemire", ["101", "506"], ["XS", "S", "M", "L"],
     "289.00", None, 110),
    ("U26FW0201", "Giaccone imbottito", ["001", "620"], ["48", "50", "52", "54"],
     "459.00", "359.00", 120),
    ("U26FW0205", "Pantalone in flanella", ["802"], ["46", "48", "50", "52"],
     "149.50", None, 130),
    ("B26FW0301", "Felpa con cappuccio", ["310", "610"], ["4A", "6A", "8A"],
     "59.90", "39.90", 140),
    ("D26FW0110", "Sciarpa in lana merino", ["230", "905"], ["TU"], "79.00", None, 150),
]
COLLECTION_HEADER = ["Codice", "Colore", "Nome colore", "Taglia", "EAN", "Descrizione",
                     "Prezzo", "Prezzo saldo", "Saldo dal", "Saldo al", "Giacenza", "Note"]
COLLECTION_TITLE = "NUOVA COLLEZIONE FW26"
SALE_FROM, SALE_TO = dt.date(2027, 1, 7), dt.date(2027, 2, 28)


def it_price(amount: str) -> str:
    """1250.00 as an Italian types it: 1.250,00."""
    whole, cents = amount.split(".")
    return f"{int(whole):,}".replace(",", ".") + "," + cents


def collection_rows() -> list[dict]:
    """One dict per sheet row below the header (None: a blank spacer row), with how
    each cell is written. The bad cells are marked in ``bad`` for the tests."""
    rows: list[dict | None] = []
    for a, (art, descr, colours, sizes, price, sale, first) in enumerate(COLLECTION):
        n = first
        for c, colour in enumerate(colours):
            for size in sizes:
                n += 1
                # Leading zeros: a UPC-based prefix for most, an Italian 80 for the scarf.
                ean = ean13(f"80123450{n:04d}" if art == "D26FW0110" else f"0012345{n:05d}")
                rows.append({
                    "Codice": art, "Colore": colour, "Taglia": size, "EAN": ean,
                    "Descrizione": descr, "Giacenza": (n * 7) % 13,
                    "Prezzo": (price, "text" if (a + c) % 2 == 0 else "number"),
                    "Prezzo saldo": (sale, "number" if a % 2 else "text"),
                    # The first date typed as text on odd articles, the second on even.
                    "Saldo dal": (SALE_FROM if sale else None, "text" if a % 2 else "cell"),
                    "Saldo al": (SALE_TO if sale else None, "cell" if a % 2 else "text"),
                    "Note": "", "bad": None})
        if art == "U26FW0201":
            rows.append(None)  # a blank row someone left between two groups
    by = {(r["Codice"], r["Colore"], r["Taglia"]): r for r in rows if r}
    # Bad cells on purpose, one per row: each rejects its row, naming the column.
    by["U26FW0205", "802", "50"].update(Prezzo=("149.50", "typed"), bad="Prezzo")  # a point
    by["B26FW0301", "310", "6A"].update(Colore="777", bad="Nome colore")  # lookup gives #N/A
    by["U26FW0201", "620", "52"].update(bad="Saldo al", **{"Saldo al": ("31/02/2027", "typed")})
    by["B26FW0301", "610", "4A"].update(bad="Saldo dal", **{"Saldo dal": (46394, "serial")})
    by["D26FW0101", "001", "46"].update(Note="prezzo da confermare")
    # The same row pasted twice: the reader reads both (duplicates are the catalog's).
    rows.append(dict(by["D26FW0102", "506", "M"]))
    return rows


def write_collezione(folder: Path) -> None:
    import xlsxwriter

    folder.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(folder / "COLLEZIONE_FW26.xlsx"))
    wb.set_properties({"title": "Nuova collezione FW26", "author": "Ufficio IT",
                       "created": dt.datetime(2026, 11, 27, 9, 0, 0)})
    notes = wb.add_worksheet("Note")  # the first sheet: instructions, not data
    for r, text in enumerate(["Compilare il foglio Collezione, una riga per taglia.",
                              "Prezzi in euro IVA inclusa; saldi dal 07/01 al 28/02.",
                              "I codici colore sono nel foglio Liste."]):
        notes.write_string(r, 0, text)
    ws = wb.add_worksheet("Collezione")
    lists = wb.add_worksheet("Liste")  # drop-down lists, hidden as IT does
    lists.hide()
    for r, (code, name) in enumerate(COLOURS.items()):
        lists.write_string(r, 0, code)
        lists.write_string(r, 1, name)
    bold = wb.add_format({"bold": True})
    text = wb.add_format({"num_format": "@"})  # cells formatted as text before typing
    money = wb.add_format({"num_format": "#,##0.00 [$€-410]"})
    ean_fmt = wb.add_format({"num_format": "0000000000000"})
    day = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.merge_range(0, 0, 0, len(COLLECTION_HEADER) - 1, COLLECTION_TITLE,
                   wb.add_format({"bold": True, "align": "center", "font_size": 14}))
    ws.write_row(2, 0, COLLECTION_HEADER, bold)  # row 2 (sheet row 2) stays empty
    col = {name: i for i, name in enumerate(COLLECTION_HEADER)}
    for i, row in enumerate(collection_rows()):
        r = 3 + i
        if row is None:
            continue
        ws.write_string(r, col["Codice"], row["Codice"])
        ws.write_string(r, col["Colore"], row["Colore"], text)
        name = COLOURS.get(row["Colore"])
        ws.write_formula(r, col["Nome colore"], f"=VLOOKUP(B{r + 1},Liste!A:B,2,FALSE)",
                         None, name if name else "#N/A")
        ws.write_string(r, col["Taglia"], row["Taglia"], text)
        ws.write_number(r, col["EAN"], int(row["EAN"]), ean_fmt)  # zeros only in the format
        ws.write_string(r, col["Descrizione"], row["Descrizione"])
        for field in ("Prezzo", "Prezzo saldo"):
            amount, how = row[field]
            if amount is None:
                continue
            if how == "number":
                ws.write_number(r, col[field], float(amount), money)
            elif how == "text":
                ws.write_string(r, col[field], it_price(amount), text)
            else:
                ws.write_string(r, col[field], amount, text)  # as typed
        for field in ("Saldo dal", "Saldo al"):
            value, how = row[field]
            if value is None:
                continue
            if how == "cell":
                ws.write_datetime(r, col[field], dt.datetime.combine(value, dt.time()), day)
            elif how == "text":
                ws.write_string(r, col[field], f"{value:%d/%m/%Y}", text)
            elif how == "serial":
                ws.write_number(r, col[field], value)  # a date whose format was lost
            else:
                ws.write_string(r, col[field], value, text)
        ws.write_number(r, col["Giacenza"], row["Giacenza"])
        if row["Note"]:
            ws.write_string(r, col["Note"], row["Note"])
    ws.set_column(0, 0, 12)
    ws.set_column(4, 5, 30)
    ws.activate()
    wb.close()


def main() -> None:
    write_articoli(HERE / "articoli")
    write_giacenze(HERE / "giacenze")
    write_magazzino(HERE / "magazzino")
    write_reparto(HERE / "reparto")
    write_collezione(HERE / "collezione")


if __name__ == "__main__":
    main()
