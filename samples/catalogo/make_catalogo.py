"""Writes samples/catalogo/REPARTO_DONNA_FW26.xlsx: a new women's department as IT
drops it, a spreadsheet with the whole collection for the shop.

    python samples/catalogo/make_catalogo.py

Deterministic (xlsxwriter with a fixed creation date). What is in it, and what
it exercises:

- Italian and English names, descriptions, colour names, materials, colour
  families and specifications (composition, care) in columns side by side;
- category paths (``Donna > Capispalla > Giacche``), one or two per article;
- materials and colour families (filters), composition, care and origin (specs);
- list price, a sale price with its dates (one sale running in December 2026,
  one starting in January 2027), a price in Swiss francs;
- EANs (GS1 check digits), stock, weight in grams, two or three photos per
  colour as a comma list of URLs;
- sizes in no particular order (the shop must still list XS, S, M, L),
  shoes with half sizes, a one-size scarf (a simple product);
- a title row above the header, as people make them; a row typed twice (the
  same SKU: a reject naming both lines, the rest goes on); an EAN with a wrong
  check digit; an unknown size for a product whose other SKUs have colours.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "REPARTO_DONNA_FW26.xlsx"
CDN = "https://cdn.moda-italia.example/img"

HEADER = ["ARTICOLO", "COLORE", "TAGLIA", "EAN", "NOME", "NOME_EN", "DESCRIZIONE",
          "DESCRIZIONE_EN", "CATEGORIE", "COLORE_NOME", "COLORE_EN", "FAMIGLIA_COLORE",
          "FAMIGLIA_COLORE_EN", "MATERIALE", "MATERIALE_EN", "COMPOSIZIONE",
          "COMPOSIZIONE_EN", "CURA", "CURA_EN", "ORIGINE", "PREZZO", "PREZZO_CHF",
          "PREZZO_SALDO", "SALDO_DAL", "SALDO_AL", "GIACENZA", "PESO_G", "FOTO"]

# code -> (it, en, family it, family en)
COLOURS = {
    "NER": ("Nero", "Black", "Nero", "Black"),
    "BLU": ("Blu notte", "Midnight blue", "Blu", "Blue"),
    "CAM": ("Cammello", "Camel", "Marrone", "Brown"),
    "BOR": ("Bordeaux", "Burgundy", "Rosso", "Red"),
    "ECR": ("Écru", "Ecru", "Bianco", "White"),
    "GRI": ("Grigio mélange", "Grey marl", "Grigio", "Grey"),
}
# material it -> en
MATERIALS = {"Lana": "Wool", "Cachemire": "Cashmere", "Cotone": "Cotton", "Pelle": "Leather",
             "Viscosa": "Viscose", "Nylon": "Nylon"}
CARE = {"secco": ("Lavaggio a secco", "Dry clean only"),
        "30": ("Lavaggio in lavatrice a 30°", "Machine wash at 30°C"),
        "mano": ("Lavaggio a mano", "Hand wash")}

SALE_NOW = (dt.date(2026, 12, 1), dt.date(2027, 1, 6))
SALE_LATER = (dt.date(2027, 1, 7), dt.date(2027, 2, 28))

# article, it name, en name, it description, en description, categories, material,
# composition (it, en), care, price, chf, sale (price, window) or None, colours, sizes,
# weight in grams
ARTICLES = [
    ("D26FW1001", "Cappotto doppiopetto in lana", "Double-breasted wool coat",
     "Cappotto lungo doppiopetto, collo a revers, fodera in viscosa.",
     "Long double-breasted coat with notch lapels, viscose lining.",
     "Donna > Capispalla > Cappotti", "Lana", ("90% lana, 10% cachemire",
                                               "90% wool, 10% cashmere"), "secco",
     "459.00", "489.00", ("369.00", SALE_NOW), ["CAM", "NER"], ["M", "XS", "L", "S"], 1850),
    ("D26FW1002", "Piumino trapuntato", "Quilted down jacket",
     "Piumino leggero con cappuccio staccabile.", "Light down jacket, detachable hood.",
     "Donna > Capispalla > Piumini", "Nylon", ("100% nylon; imbottitura 90% piuma",
                                               "100% nylon; padding 90% down"), "30",
     "289.00", "309.00", None, ["NER", "BLU"], ["S", "M", "L", "XL"], 950),
    ("D26FW1010", "Maglia girocollo in cachemire", "Cashmere crew-neck sweater",
     "Maglia in puro cachemire, lavorazione a coste ai bordi.",
     "Pure cashmere sweater with ribbed edges.",
     "Donna > Maglieria, Collezione > Essenziali", "Cachemire",
     ("100% cachemire", "100% cashmere"), "mano", "249.00", "269.00",
     ("199.00", SALE_LATER), ["GRI", "ECR", "BOR"], ["L", "S", "M"], 320),
    ("D26FW1020", "Pantalone in lana a vita alta", "High-waisted wool trousers",
     "Pantalone sartoriale con pince, gamba ampia.", "Tailored trousers with pleats, wide leg.",
     "Donna > Pantaloni", "Lana", ("98% lana, 2% elastan", "98% wool, 2% elastane"),
     "secco", "179.00", "189.00", None, ["NER", "GRI"], ["40", "42", "44", "38"], 520),
    ("D26FW1030", "Abito in viscosa stampato", "Printed viscose dress",
     "Abito midi con cintura, stampa floreale.", "Belted midi dress, floral print.",
     "Donna > Abiti", "Viscosa", ("100% viscosa", "100% viscose"), "mano",
     "159.00", "169.00", ("119.00", SALE_NOW), ["BLU", "BOR"], ["XS", "S", "M"], 380),
    ("D26FW1040", "Stivaletto in pelle", "Leather ankle boot",
     "Stivaletto con tacco a blocco, suola in gomma.", "Block-heel ankle boot, rubber sole.",
     "Donna > Scarpe > Stivaletti", "Pelle", ("Tomaia 100% pelle bovina",
                                             "Upper 100% cowhide leather"), "secco",
     "229.00", "245.00", None, ["NER", "CAM"], ["37", "36", "37.5", "38", "39"], 1100),
    ("D26FW1050", "Sciarpa in lana e cachemire", "Wool and cashmere scarf",
     "Sciarpa morbida con frange.", "Soft fringed scarf.",
     "Donna > Accessori > Sciarpe", "Lana", ("70% lana, 30% cachemire",
                                            "70% wool, 30% cashmere"), "mano",
     "89.00", "95.00", None, ["GRI"], ["TU"], 210),
    ("D26FW1060", "Camicia in cotone popeline", "Cotton poplin shirt",
     "Camicia classica con polsini a doppio bottone.", "Classic shirt, two-button cuffs.",
     "Donna > Camicie", "Cotone", ("100% cotone", "100% cotton"), "30",
     "119.00", "125.00", None, ["ECR", "BLU"], ["S", "M", "L"], 240),
]


def ean13(first12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def rows() -> list[list[object]]:
    out: list[list[object]] = []
    n = 0
    for (art, name, name_en, descr, descr_en, cats, material, (comp, comp_en), care, price,
         chf, sale, colours, sizes, grams) in ARTICLES:
        for c in colours:
            it, en, fam, fam_en = COLOURS[c]
            photos = ", ".join(f"{CDN}/{art}_{c}_{k}.jpg"
                               for k in range(1, 3 if len(sizes) < 4 else 4))
            for s in sizes:
                n += 1
                sale_price, (start, end) = (sale if sale else (None, (None, None)))
                out.append([art, c, s, ean13(f"80123456{n:04d}"), name, name_en, descr,
                            descr_en, cats, it, en, fam, fam_en, material,
                            MATERIALS[material], comp, comp_en, CARE[care][0], CARE[care][1],
                            "Made in Italy", float(price), float(chf),
                            float(sale_price) if sale_price else None, start, end,
                            (n * 7) % 13, grams, photos])
    return out


def main() -> None:
    import xlsxwriter  # reproducible files (fixed timestamps)

    data = rows()
    # Bad on purpose: a wrong EAN check digit; the same SKU typed twice.
    bad = data[5]
    bad[3] = bad[3][:12] + str((int(bad[3][12]) + 1) % 10)
    data.insert(12, list(data[11]))
    wb = xlsxwriter.Workbook(str(HERE / NAME), {"strings_to_numbers": False})
    wb.set_properties({"created": dt.datetime(2026, 11, 20, 9, 0, 0)})
    ws = wb.add_worksheet("Collezione FW26")
    bold = wb.add_format({"bold": True})
    money = wb.add_format({"num_format": "#,##0.00"})
    day = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write(0, 0, "REPARTO DONNA — COLLEZIONE AUTUNNO/INVERNO 2026", bold)
    for col, h in enumerate(HEADER):
        ws.write(2, col, h, bold)
    for r, row in enumerate(data, start=3):
        for col, value in enumerate(row):
            name = HEADER[col]
            if value is None:
                continue
            if name in ("PREZZO", "PREZZO_CHF", "PREZZO_SALDO"):
                ws.write_number(r, col, value, money)
            elif name in ("SALDO_DAL", "SALDO_AL"):
                ws.write_datetime(r, col, dt.datetime.combine(value, dt.time()), day)
            elif name in ("GIACENZA", "PESO_G"):
                ws.write_number(r, col, value)
            else:
                ws.write_string(r, col, str(value))
    wb.close()


if __name__ == "__main__":
    main()
