"""Makes the AS400-style collection in this folder (deterministic: same files on
every run). Run: python samples/collezione-as400/make_collezione.py

- ANAART_20261127.txt  the article master: fixed width, cp1252, one record per SKU
  (article x colour x size), codes instead of names; 45 articles, about 400 SKUs.
  One SKU carries colour code 099, which no code table knows (a deliberate bad row).
- ANATRA_20261127.txt  translations, long format ARTICOLO;LINGUA;CAMPO;TESTO
  (NOME and DESCR in it, en, de, fr), cp1252, ';'.
- ANAFOT_20261127.txt  photos ARTICOLO;COLORE;POSIZIONE;FILE, several per article
  and colour, rows deliberately out of order (POSIZIONE gives the order).
- TABCOD.csv           the code table, keyed by type and code (TIPO;CODICE;LINGUA;
  DESCRIZIONE): COL colours, MAT materials, VES fits, CAT category paths, CMP the
  composition of each material (a specification).

The three ANA* files arrive together as one set; TABCOD.csv changes rarely.

Master layout (positions from 1):
  ARTICOLO 1-8, COLORE 9-11, TAGLIA 12-15, EAN 16-28, CATEGORIA 29-32,
  MATERIALE 33-35, VESTIBILITA 36-38, PREZZO 39-47 (9(7)V99), GIACENZA 48-52,
  DESCR 53-82 (the ERP's short Italian description)
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
LANGS = ("it", "en", "de", "fr")

COLOURS = {
    "001": ("Nero", "Black", "Schwarz", "Noir"),
    "002": ("Bianco", "White", "Weiß", "Blanc"),
    "010": ("Blu notte", "Midnight blue", "Nachtblau", "Bleu nuit"),
    "021": ("Rosso", "Red", "Rot", "Rouge"),
    "034": ("Verde bosco", "Forest green", "Waldgrün", "Vert forêt"),
    "045": ("Cammello", "Camel", "Kamel", "Camel"),
    "050": ("Grigio mélange", "Grey marl", "Grau meliert", "Gris chiné"),
    "066": ("Écru", "Ecru", "Ecru", "Écru"),
}
MATERIALS = {
    "COT": ("Cotone", "Cotton", "Baumwolle", "Coton"),
    "LAN": ("Lana", "Wool", "Wolle", "Laine"),
    "LIN": ("Lino", "Linen", "Leinen", "Lin"),
    "SET": ("Seta", "Silk", "Seide", "Soie"),
    "CAS": ("Cashmere", "Cashmere", "Kaschmir", "Cachemire"),
    "POL": ("Poliestere riciclato", "Recycled polyester", "Recyceltes Polyester",
            "Polyester recyclé"),
}
COMPOSITIONS = {  # material code -> composition, a specification (code type CMP)
    "COT": ("100% cotone", "100% cotton", "100% Baumwolle", "100% coton"),
    "LAN": ("100% lana vergine", "100% virgin wool", "100% Schurwolle",
            "100% laine vierge"),
    "LIN": ("100% lino", "100% linen", "100% Leinen", "100% lin"),
    "SET": ("100% seta", "100% silk", "100% Seide", "100% soie"),
    "CAS": ("100% cashmere", "100% cashmere", "100% Kaschmir", "100% cachemire"),
    "POL": ("100% poliestere riciclato", "100% recycled polyester",
            "100% recyceltes Polyester", "100% polyester recyclé"),
}
FITS = {
    "REG": ("Regolare", "Regular", "Normal", "Normale"),
    "SLI": ("Aderente", "Slim", "Schmal", "Ajustée"),
    "OVR": ("Oversize", "Oversized", "Oversize", "Oversize"),
}
CATEGORIES = {  # code: (category path per language, article noun per language, sizes)
    "GIAC": (("Donna > Giacche", "Women > Jackets", "Damen > Jacken", "Femme > Vestes"),
             ("Giacca", "Jacket", "Jacke", "Veste"), "letters"),
    "CAPP": (("Donna > Cappotti", "Women > Coats", "Damen > Mäntel", "Femme > Manteaux"),
             ("Cappotto", "Coat", "Mantel", "Manteau"), "letters"),
    "MAGL": (("Donna > Maglieria", "Women > Knitwear", "Damen > Strick", "Femme > Maille"),
             ("Maglione", "Sweater", "Pullover", "Pull"), "letters"),
    "CAMI": (("Donna > Camicie", "Women > Shirts", "Damen > Blusen", "Femme > Chemises"),
             ("Camicia", "Shirt", "Bluse", "Chemise"), "letters"),
    "PANT": (("Donna > Pantaloni", "Women > Trousers", "Damen > Hosen", "Femme > Pantalons"),
             ("Pantalone", "Trousers", "Hose", "Pantalon"), "numbers"),
    "GONN": (("Donna > Gonne", "Women > Skirts", "Damen > Röcke", "Femme > Jupes"),
             ("Gonna", "Skirt", "Rock", "Jupe"), "numbers"),
    "SCAR": (("Donna > Scarpe", "Women > Shoes", "Damen > Schuhe", "Femme > Chaussures"),
             ("Stivaletto", "Ankle boot", "Stiefelette", "Bottine"), "shoes"),
    "ACCE": (("Accessori > Sciarpe", "Accessories > Scarves", "Accessoires > Schals",
              "Accessoires > Écharpes"), ("Sciarpa", "Scarf", "Schal", "Écharpe"), "one"),
}
SIZES = {"letters": ["S", "M", "L", "XL"], "numbers": ["40", "42", "44", "46"],
         "shoes": ["37", "37.5", "38", "39", "40"], "one": ["TU"]}
ADJ = {  # material code -> adjective phrase per language
    "COT": ("in cotone", "cotton", "aus Baumwolle", "en coton"),
    "LAN": ("in lana", "wool", "aus Wolle", "en laine"),
    "LIN": ("in lino", "linen", "aus Leinen", "en lin"),
    "SET": ("in seta", "silk", "aus Seide", "en soie"),
    "CAS": ("in cashmere", "cashmere", "aus Kaschmir", "en cachemire"),
    "POL": ("in poliestere riciclato", "recycled polyester", "aus recyceltem Polyester",
            "en polyester recyclé"),
}
NAMES = ["Alba", "Bruna", "Clelia", "Diana", "Elsa", "Fiora", "Gemma", "Ilaria", "Livia"]


def ean13(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def build(seed: int = 20261127) -> dict[str, list[str]]:
    rnd = random.Random(seed)
    master, trad, photos = [], ["ARTICOLO;LINGUA;CAMPO;TESTO"], []
    codes = ["TIPO;CODICE;LINGUA;DESCRIZIONE"]
    for kind, table in (("COL", COLOURS), ("MAT", MATERIALS), ("VES", FITS),
                        ("CMP", COMPOSITIONS)):
        for code, names in table.items():
            codes += [f"{kind};{code};{lang};{n}" for lang, n in zip(LANGS, names, strict=True)]
    for code, (paths, _, _) in CATEGORIES.items():
        codes += [f"CAT;{code};{lang};{p}" for lang, p in zip(LANGS, paths, strict=True)]
    cats = list(CATEGORIES)
    n_sku = 0
    for a in range(45):
        cat = cats[a % len(cats)]
        _, nouns, scale = CATEGORIES[cat]
        mat = rnd.choice(list(MATERIALS))
        fit = rnd.choice(list(FITS))
        art = f"{cat[:2]}26{a + 1:03d}"
        name = NAMES[a % len(NAMES)]
        colours = rnd.sample(list(COLOURS), rnd.randint(2, 3) if scale != "one" else 3)
        sizes = SIZES[scale]
        price = rnd.choice([3990, 5990, 7990, 12900, 18900, 24900, 39900])
        adj = ADJ[mat]
        for i, lang in enumerate(LANGS):
            title = (f"{nouns[i]} {name} {adj[i]}" if lang != "en"
                     else f"{name} {adj[i]} {nouns[i].lower()}")
            trad.append(f"{art};{lang};NOME;{title}")
            descr = {"it": f"{nouns[0]} {adj[0]}, vestibilità {FITS[fit][0].lower()}. "
                           "Prodotta in Italia.",
                     "en": f"{adj[1].capitalize()} {nouns[1].lower()}, "
                           f"{FITS[fit][1].lower()} fit. Made in Italy.",
                     "de": f"{nouns[2]} {adj[2]}, Passform {FITS[fit][2].lower()}. "
                           "Hergestellt in Italien.",
                     "fr": f"{nouns[3]} {adj[3]}, coupe {FITS[fit][3].lower()}. "
                           "Fabriqué en Italie."}[lang]
            trad.append(f"{art};{lang};DESCR;{descr}")
        for col in colours:
            for p in range(1, rnd.randint(2, 4) + 1):
                photos.append(f"{art};{col};{p};{art}_{col}_{p:02d}.jpg")
            for size in sizes:
                n_sku += 1
                ean = ean13(f"80{a + 1:04d}{int(col):03d}{sizes.index(size):03d}")
                stock = rnd.choice([0, 1, 2, 3, 5, 8, 12, 20])
                descr = f"{nouns[0]} {name} {adj[0]}"[:30]
                master.append(f"{art:<8}{col:<3}{size:<4}{ean}{cat:<4}{mat:<3}{fit:<3}"
                              f"{price:09d}{stock:05d}{descr:<30}")
    # A deliberate bad row: a colour code no code table knows.
    bad = master[17]
    master.insert(18, bad[:8] + "099" + bad[11:])
    rnd.shuffle(photos)  # the ERP sends them in no particular order
    photos.insert(0, "ARTICOLO;COLORE;POSIZIONE;FILE")
    return {"ANAART_20261127.txt": master, "ANATRA_20261127.txt": trad,
            "ANAFOT_20261127.txt": photos, "TABCOD.csv": codes}


def main() -> None:
    for name, lines in build().items():
        (HERE / name).write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
        print(f"{name}: {len(lines)} lines")


if __name__ == "__main__":
    main()
