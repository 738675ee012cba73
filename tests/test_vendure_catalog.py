"""A whole catalog into a real Vendure 3.7 through `filebridge run`, read back from
Vendure's Admin API: translations in four languages, the collection tree and who is
in it, facets per product and variant, the price of the day, barcodes, assets in
order. Then a run with one changed variant, runs with lost answers, a broken image
URL and a language the channel does not offer."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys
import threading
import time
import zlib
from datetime import date, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import write_profile
from helpers import read_csv, wait_for
from shops.vendure import PASSWORD, USER, VendureShop

LANGS = ["it", "en", "de", "fr"]
TODAY = date.today()


# -- images -------------------------------------------------------------------------------
def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG (Vendure checks the bytes, not only the name)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Images:
    """A loopback image host: path -> bytes; counts the requests per path."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        images = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                images.hits[self.path] = images.hits.get(self.path, 0) + 1
                data = images.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def add(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return self.url(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the collection -----------------------------------------------------------------------
def ean13(body: str) -> str:
    digits = [int(d) for d in body]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return body + str(check)


COLOURS = {  # it -> en, de, fr, colour family (it, en, de, fr), pixel colour
    "Rosso": (("Red", "Rot", "Rouge"), ("Rossi", "Reds", "Rottöne", "Rouges"), (200, 0, 0)),
    "Blu": (("Blue", "Blau", "Bleu"), ("Blu", "Blues", "Blautöne", "Bleus"), (0, 0, 200)),
    "Beige": (("Beige", "Beige", "Beige"), ("Neutri", "Neutrals", "Naturtöne", "Neutres"),
              (220, 200, 160)),
    "Nero": (("Black", "Schwarz", "Noir"), ("Neri", "Blacks", "Schwarztöne", "Noirs"),
             (10, 10, 10)),
    "Bianco": (("White", "Weiß", "Blanc"), ("Neutri", "Neutrals", "Naturtöne", "Neutres"),
               (250, 250, 250)),
}
PRODUCTS: dict[str, dict[str, Any]] = {
    "GIA01": {
        "title": ("Giacca trapuntata", "Quilted jacket", "Steppjacke", "Veste matelassée"),
        "desc": ("Giacca leggera", "Light jacket", "Leichte Jacke", "Veste légère"),
        "colours": ["Rosso", "Blu"], "sizes": ["L", "S", "M"],  # rows not in size order
        "categories": (["Donna > Capispalla > Giacche"], ["Women > Outerwear > Jackets"],
                       ["Damen > Oberbekleidung > Jacken"], ["Femme > Manteaux > Vestes"]),
        "material": (["Nylon"], ["Nylon"], ["Nylon"], ["Nylon"]),
        "composition": ("100% poliammide", "100% polyamide", "100% Polyamid",
                        "100% polyamide"),
        "price": "129.00", "sale": ("99.00", TODAY - timedelta(days=5),
                                    TODAY + timedelta(days=20)),
    },
    "PAN02": {
        "title": ("Pantalone chino", "Chino trousers", "Chinohose", "Pantalon chino"),
        "desc": ("Cotone elasticizzato", "Stretch cotton", "Stretch-Baumwolle",
                 "Coton stretch"),
        "colours": ["Beige"], "sizes": ["48", "44", "46"],
        "categories": (["Uomo > Pantaloni"], ["Men > Trousers"], ["Herren > Hosen"],
                       ["Homme > Pantalons"]),
        "material": (["Cotone"], ["Cotton"], ["Baumwolle"], ["Coton"]),
        "composition": ("97% cotone, 3% elastan", "97% cotton, 3% elastane",
                        "97% Baumwolle, 3% Elasthan", "97% coton, 3% élasthanne"),
        "price": "79.90", "sale": ("59.90", TODAY + timedelta(days=10),
                                   TODAY + timedelta(days=40)),  # not yet
    },
    "MAG03": {
        "title": ("Maglia girocollo", "Crew-neck sweater", "Rundhalspullover",
                  "Pull col rond"),
        "desc": ("Lana merino", "Merino wool", "Merinowolle", "Laine mérinos"),
        "colours": ["Nero", "Bianco"], "sizes": ["M"],
        "categories": (["Donna > Maglieria", "Uomo > Maglieria"],
                       ["Women > Knitwear", "Men > Knitwear"],
                       ["Damen > Strick", "Herren > Strick"],
                       ["Femme > Maille", "Homme > Maille"]),
        "material": (["Lana"], ["Wool"], ["Wolle"], ["Laine"]),
        "composition": ("100% lana merino", "100% merino wool", "100% Merinowolle",
                        "100% laine mérinos"),
        "price": "89.50", "sale": None,
    },
}
COLUMNS = ["sku", "article", "colour", "colour_en", "colour_de", "colour_fr", "size", "ean",
           *[f"{f}{s}" for f in ("title", "desc", "category", "material", "family",
                                 "composition") for s in ("", "_en", "_de", "_fr")],
           "price", "sale_price", "sale_from", "sale_to", "stock", "images"]


def catalog_rows(images: Images) -> list[dict[str, str]]:
    guide = images.add("/img/guida-taglie.png", png(8, 4, (0, 120, 0)))  # on two products
    # The same picture under two URLs: one asset.
    images.add("/img/MAG03-nero-retro.png", png(5, 3, COLOURS["Nero"][2]))  # = nero-1
    rows = []
    n = 0
    for art, p in PRODUCTS.items():
        for colour in p["colours"]:
            tr, family, rgb = COLOURS[colour]
            pics = [images.add(f"/img/{art}-{colour.lower()}-{i}.png", png(4 + i, 3, rgb))
                    for i in (1, 2)]
            if art != "MAG03":
                pics.append(guide)
            elif colour == "Nero":
                pics.append(images.url("/img/MAG03-nero-retro.png"))
            for size in p["sizes"]:
                n += 1
                row = {"sku": f"{art}-{colour[:3].upper()}-{size}", "article": art,
                       "colour": colour, "colour_en": tr[0], "colour_de": tr[1],
                       "colour_fr": tr[2], "size": size, "ean": ean13(f"80123450{n:04d}"),
                       "price": p["price"], "stock": str(n), "images": ", ".join(pics)}
                for i, s in enumerate(("", "_en", "_de", "_fr")):
                    row["title" + s] = p["title"][i]
                    row["desc" + s] = p["desc"][i]
                    row["category" + s] = ", ".join(p["categories"][i])
                    row["material" + s] = ", ".join(p["material"][i])
                    row["family" + s] = family[i]
                    row["composition" + s] = p["composition"][i]
                sale = p["sale"]
                row.update(sale_price=sale[0], sale_from=sale[1].isoformat(),
                           sale_to=sale[2].isoformat()) if sale else row.update(
                    sale_price="", sale_from="", sale_to="")
                rows.append(row)
    return rows


def csv_text(rows: list[dict[str, str]]) -> bytes:
    lines = [";".join(COLUMNS)] + [";".join(r[c] for c in COLUMNS) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def profile(root: Path, languages: list[str] = LANGS, name: str = "vendure-catalog") -> Path:
    fields: dict[str, Any] = {
        "sku": {"from": "sku", "required": True}, "article": {"from": "article"},
        "size": {"from": "size"}, "barcode": {"from": "ean"}, "price": {"from": "price"},
        "sale_price": {"from": "sale_price"}, "sale_from": {"from": "sale_from"},
        "sale_to": {"from": "sale_to"}, "stock": {"from": "stock"},
        "images": {"from": "images"}}
    for field, col in (("title", "title"), ("description", "desc"), ("colour", "colour"),
                       ("categories", "category"), ("material", "material"),
                       ("colour_family", "family"), ("composition", "composition")):
        fields[field] = {"from": col}
        for lang in languages[1:]:
            fields[f"{field}@{lang}"] = {"from": f"{col}_{lang}"}
    data: dict[str, Any] = {
        "name": name,
        "source": {"kind": "local", "path": "../inbox", "pattern": ["*.csv"],
                   "ready": {"stable_for": 0}},
        "read": {"format": "csv", "delimiter": ";", "encoding": "utf-8"},
        "map": {
            "key": "sku", "languages": languages, "fields": fields,
            "product": {"key": "article", "options": [
                {"field": "colour", "name": "Colore",
                 "names": {"en": "Colour", "de": "Farbe", "fr": "Couleur"}},
                {"field": "size", "name": "Taglia", "order": "sizes",
                 "names": {"en": "Size", "de": "Größe", "fr": "Taille"}}]},
            "attributes": {
                "material": {"name": "Materiale",
                             "names": {"en": "Material", "de": "Material", "fr": "Matière"}},
                "colour_family": {"name": "Famiglia colore", "names": {
                    "en": "Colour family", "de": "Farbfamilie", "fr": "Famille de couleur"}},
                "composition": {"name": "Composizione", "filter": False}}},
        "write": [{"format": "vendure_api", "url": "${VENDURE_URL}",
                   "username": "${VENDURE_USER}", "password": "${VENDURE_PASSWORD}",
                   "limits": {"max_backoff": 0.1}}],
        "feedback": {"ack": {"path": "../feedback/{stem}.ack.csv"},
                     "rejects": {"path": "../feedback/{stem}.rejects.csv"}},
    }
    if len(languages) > 1:  # option names and attribute labels only where declared
        for o in data["map"]["product"]["options"]:
            o["names"] = {k: v for k, v in o["names"].items() if k in languages}
    return write_profile(root, data, f"{name}.yaml")


# -- fixtures -----------------------------------------------------------------------------
SHOP = partial(VendureShop, USER, PASSWORD)
SHOP_SCOPE = "module"  # a real Vendure: started once for the module


@pytest.fixture(scope="module")
def images():
    i = Images()
    yield i
    i.close()


@pytest.fixture
def env(shop, cli_env):
    shop.faults.clear()
    return cli_env | {"VENDURE_URL": shop.url, "VENDURE_USER": USER,
                      "VENDURE_PASSWORD": PASSWORD}


def run(prof: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", "run", str(prof)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def drop(root: Path, name: str, rows: list[dict[str, str]]) -> None:
    (root / "inbox").mkdir(exist_ok=True)
    (root / "inbox" / name).write_bytes(csv_text(rows))


# -- reading Vendure back -----------------------------------------------------------------
TR = "translations{languageCode name}"
PRODUCT = ("id slug enabled updatedAt translations{languageCode name slug description "
           "customFields{composition}} facetValues{code facet{code}} featuredAsset{id} "
           "assets{id} optionGroups{code " + TR + " options{code " + TR + "}} "
           "variants{id sku price enabled updatedAt stockOnHand customFields{barcode} " + TR
           + " facetValues{code facet{code}} featuredAsset{id} assets{id} "
           "options{code group{code}}}")


def dump(shop: VendureShop) -> dict[str, Any]:
    """Everything the catalog tests look at, as Vendure holds it."""
    products = shop.gql("{products(options:{take:100}){items{" + PRODUCT + "}}}")
    collections = shop.gql(
        "{collections(options:{take:100}){items{id parentId updatedAt filters{code args{name "
        "value}} translations{languageCode name slug} productVariants(options:{take:1000})"
        "{items{sku}}}}}")
    facets = shop.gql("{facets(options:{take:100}){items{id code isPrivate " + TR
                      + " values{id code " + TR + "}}}}")
    assets = shop.gql("{assets(options:{take:1000}){totalItems items{id name}}}")
    return {"products": {p["slug"]: p for p in products["products"]["items"]},
            "collections": collections["collections"]["items"],
            "facets": {f["code"]: f for f in facets["facets"]["items"]},
            "assets": assets["assets"]}


def names(entity: dict[str, Any], key: str = "name") -> dict[str, str]:
    return {t["languageCode"]: t[key] for t in entity["translations"]}


def tree(collections: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Italian path -> SKUs in it; a path made twice fails."""
    by_id = {c["id"]: c for c in collections}

    def path(c: dict[str, Any]) -> str:
        it = names(c)["it"]
        parent = by_id.get(c["parentId"])
        return f"{path(parent)} > {it}" if parent else it

    paths = [path(c) for c in collections]
    assert len(paths) == len(set(paths)), sorted(paths)
    return {p: sorted(v["sku"] for v in c["productVariants"]["items"])
            for p, c in zip(paths, collections, strict=True)}


def skus(art: str, colours: list[str] | None = None) -> list[str]:
    p = PRODUCTS[art]
    return sorted(f"{art}-{c[:3].upper()}-{s}" for c in colours or p["colours"]
                  for s in p["sizes"])


def facet_codes(entity: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for fv in entity["facetValues"]:
        out.setdefault(fv["facet"]["code"], set()).add(fv["code"])
    return out


EXPECTED_TREE = {
    "Donna": skus("GIA01") + skus("MAG03"),
    "Donna > Capispalla": skus("GIA01"),
    "Donna > Capispalla > Giacche": skus("GIA01"),
    "Donna > Maglieria": skus("MAG03"),
    "Uomo": sorted(skus("PAN02") + skus("MAG03")),
    "Uomo > Pantaloni": skus("PAN02"),
    "Uomo > Maglieria": skus("MAG03"),
}


def settled_tree(shop: VendureShop, expected: dict[str, list[str]]) -> dict[str, Any]:
    """The dump once Vendure's collection job has applied the filters (it runs
    after the mutations, debounced)."""
    holder: dict[str, Any] = {}

    def done() -> bool:
        holder["d"] = dump(shop)
        return tree(holder["d"]["collections"]) == expected

    try:
        wait_for(done, timeout=30, every=0.3, what="collections")
    except AssertionError:
        raise AssertionError(tree(holder["d"]["collections"])) from None
    return holder["d"]


# -- the tests ----------------------------------------------------------------------------
def test_a_collection_arrives_whole_and_a_changed_variant_changes_only_itself(
        tmp_path, shop, images, env):
    rows = catalog_rows(images)
    prof = profile(tmp_path)
    drop(tmp_path, "COLLEZIONE_1.csv", rows)
    r = run(prof, env)
    assert r.returncode == 0, r.stdout + r.stderr
    [ack] = read_csv(tmp_path / "feedback" / "COLLEZIONE_1.ack.csv", ";")
    assert (ack["read"], ack["sent"], ack["rejected"]) == (str(len(rows)), str(len(rows)), "0")

    d = settled_tree(shop, EXPECTED_TREE)
    gia, pan, mag = (d["products"][s] for s in ("gia01", "pan02", "mag03"))

    # Translations: product, variants, option groups and options, in every language.
    assert names(gia) == dict(zip(LANGS, PRODUCTS["GIA01"]["title"], strict=True))
    assert names(pan, "description") == dict(zip(LANGS, PRODUCTS["PAN02"]["desc"],
                                                 strict=True))
    assert {t["languageCode"]: t["slug"] for t in gia["translations"]} == dict.fromkeys(
        LANGS, "gia01")
    colour, size = gia["optionGroups"]
    assert names(colour) == {"it": "Colore", "en": "Colour", "de": "Farbe", "fr": "Couleur"}
    assert names(size) == {"it": "Taglia", "en": "Size", "de": "Größe", "fr": "Taille"}
    assert [names(o)["it"] for o in size["options"]] == ["S", "M", "L"]  # made in order
    red = next(o for o in colour["options"] if names(o)["it"] == "Rosso")
    assert names(red) == {"it": "Rosso", "en": "Red", "de": "Rot", "fr": "Rouge"}
    variants = {v["sku"]: v for p in d["products"].values() for v in p["variants"]}
    assert names(variants["GIA01-ROS-M"]) == {
        "it": "Giacca trapuntata Rosso M", "en": "Quilted jacket Red M",
        "de": "Steppjacke Rot M", "fr": "Veste matelassée Rouge M"}
    # Sizes in the scale's order (the rows came L, S, M), colours as first seen.
    assert [v["sku"] for v in gia["variants"]] == [
        "GIA01-ROS-S", "GIA01-ROS-M", "GIA01-ROS-L", "GIA01-BLU-S", "GIA01-BLU-M",
        "GIA01-BLU-L"]
    assert [v["sku"] for v in pan["variants"]] == ["PAN02-BEI-44", "PAN02-BEI-46",
                                                   "PAN02-BEI-48"]

    # Collections: the tree, names per language, two "Maglieria" with their own slugs.
    by_path = {p: c for p, c in zip(tree(d["collections"]), d["collections"], strict=True)}
    assert names(by_path["Donna > Capispalla > Giacche"]) == {
        "it": "Giacche", "en": "Jackets", "de": "Jacken", "fr": "Vestes"}
    assert names(by_path["Uomo > Maglieria"]) == {"it": "Maglieria", "en": "Knitwear",
                                                  "de": "Strick", "fr": "Maille"}
    slugs = [names(by_path[p], "slug")["it"] for p in ("Donna > Maglieria",
                                                       "Uomo > Maglieria")]
    assert slugs[0] == "maglieria" and slugs[1].startswith("maglieria-")
    assert all(c["filters"][0]["code"] == "facet-value-filter" for c in d["collections"])

    # Facets: filters with translated values; the category facet private.
    material, family = d["facets"]["material"], d["facets"]["colour_family"]
    assert (material["isPrivate"], family["isPrivate"]) == (False, False)
    assert d["facets"]["category"]["isPrivate"] is True
    assert names(material) == {"it": "Materiale", "en": "Material", "de": "Material",
                               "fr": "Matière"}
    cotone = next(v for v in material["values"] if v["code"] == "cotone")
    assert names(cotone) == {"it": "Cotone", "en": "Cotton", "de": "Baumwolle", "fr": "Coton"}
    assert facet_codes(pan)["material"] == {"cotone"}
    assert facet_codes(pan)["colour_family"] == {"neutri"}
    # MAG03's colours are in different families: on the variants, not the product.
    assert "colour_family" not in facet_codes(mag)
    assert facet_codes(variants["MAG03-NER-M"])["colour_family"] == {"neri"}
    assert facet_codes(variants["MAG03-BIA-M"])["colour_family"] == {"neutri"}
    assert facet_codes(mag)["material"] == {"lana"}
    assert "composition" not in d["facets"]  # a specification, not a filter

    # The specification: a translatable custom field.
    assert {t["languageCode"]: t["customFields"]["composition"] for t in mag["translations"]
            } == dict(zip(LANGS, PRODUCTS["MAG03"]["composition"], strict=True))

    # Prices of the day: GIA01's sale is on, PAN02's not yet; barcodes.
    assert {variants[s]["price"] for s in skus("GIA01")} == {9900}
    assert {variants[s]["price"] for s in skus("PAN02")} == {7990}
    assert variants["MAG03-NER-M"]["price"] == 8950
    eans = {r["sku"]: r["ean"] for r in rows}
    assert {s: v["customFields"]["barcode"] for s, v in variants.items()} == eans

    # Assets: each picture once (the guide is on two products; two URLs of one picture
    # are one asset); in order, the first featured; a variant's first image featured.
    pictures = {hashlib.sha256(b).hexdigest() for b in images.files.values()}
    assert d["assets"]["totalItems"] == len(pictures) == 11
    asset = {a["id"]: a["name"] for a in d["assets"]["items"]}

    def stems(ids: list[dict[str, str]]) -> list[str]:
        return [asset[i["id"]].rsplit("-", 1)[0] for i in ids]

    assert stems(gia["assets"]) == ["GIA01-rosso-1", "GIA01-rosso-2", "guida-taglie",
                                    "GIA01-blu-1", "GIA01-blu-2"]
    assert gia["featuredAsset"] == gia["assets"][0]
    blue = variants["GIA01-BLU-M"]
    assert stems(blue["assets"]) == ["GIA01-blu-1", "GIA01-blu-2", "guida-taglie"]
    assert blue["featuredAsset"] == blue["assets"][0]
    assert pan["assets"][2] == gia["assets"][2]  # the shared guide
    assert stems(mag["assets"]) == ["MAG03-nero-1", "MAG03-nero-2", "MAG03-bianco-1",
                                    "MAG03-bianco-2"]  # retro is nero-1's picture
    assert all(n == 1 for n in images.hits.values()), images.hits  # each URL fetched once

    # A second run with one changed variant: only that variant changes in Vendure.
    before = shop.requests
    hits = dict(images.hits)
    rows[4] = {**rows[4], "price": "139.00", "sale_price": "", "sale_from": "", "sale_to": ""}
    drop(tmp_path, "COLLEZIONE_2.csv", rows)
    r = run(prof, env)
    assert r.returncode == 0, r.stdout + r.stderr
    [ack] = read_csv(tmp_path / "feedback" / "COLLEZIONE_2.ack.csv", ";")
    assert (ack["sent"], ack["unchanged"]) == ("1", str(len(rows) - 1))
    after = dump(shop)
    changed = rows[4]["sku"]
    for slug_, p in d["products"].items():
        q = after["products"][slug_]
        assert (q["updatedAt"], q["facetValues"], q["assets"]) == (
            p["updatedAt"], p["facetValues"], p["assets"]), slug_
        for v, w in zip(p["variants"], q["variants"], strict=True):
            if v["sku"] == changed:
                assert (w["price"], v["price"]) == (13900, 9900)
                assert {k: x for k, x in w.items() if k not in ("price", "updatedAt")} == \
                    {k: x for k, x in v.items() if k not in ("price", "updatedAt")}
            else:
                assert w == v, v["sku"]
    assert after["collections"] == d["collections"]
    assert (after["facets"], after["assets"]) == (d["facets"], d["assets"])
    assert images.hits == hits  # nothing downloaded again
    assert shop.requests - before <= 4, shop.requests - before  # login, lookup, update...


def test_lost_answers_create_nothing_twice(tmp_path, shop, images, env):
    rows = [r for r in catalog_rows(images) if r["article"] == "MAG03"]
    new: list[dict[str, str]] = []
    for r in rows:  # another article with new categories, values and pictures
        sku = r["sku"].replace("MAG03", "CAR04")
        pic = images.add(f"/img/{sku}.png", png(9, 9, (len(new) * 40, 90, 30)))
        new.append({**r, "sku": sku, "article": "CAR04", "ean": ean13(f"80123459{len(new):04d}"),
                    "images": pic, "title": "Cardigan", "category": "Donna > Cardigan",
                    "category_en": "Women > Cardigans", "category_de": "Damen > Cardigans",
                    "category_fr": "Femme > Cardigans", "material": "Cashmere",
                    "material_en": "Cashmere", "material_de": "Kaschmir",
                    "material_fr": "Cachemire"})
    before = dump(shop)
    prof = profile(tmp_path, name="lost-answers")
    drop(tmp_path, "CARDIGAN_1.csv", new)
    # Each create reaches Vendure, and its answer is lost.
    for mutation in ("createFacetValues", "createCollection", "createAssets", "createProduct(",
                     "createProductOptionGroup", "createProductOption(", "createProductVariants"):
        shop.faults.drop_after(1, match=mutation)
    res = run(prof, env)
    assert res.returncode in (0, 6), res.stdout + res.stderr
    assert not shop.faults.queue, shop.faults.queue  # every fault was met
    run(prof, env)  # what is still queued goes now; the same file is not read again
    drop(tmp_path, "CARDIGAN_2.csv", new + [{**new[0], "sku": "CAR04-NER-L", "size": "L",
                                             "ean": ean13("801234599999")}])
    res = run(prof, env)  # and a later file changes nothing that exists
    assert res.returncode == 0, res.stdout + res.stderr
    after = dump(shop)
    cardigans = [p for s, p in after["products"].items() if s.startswith("car04")]
    assert len(cardigans) == 1, list(after["products"])
    assert sorted(v["sku"] for v in cardigans[0]["variants"]) == [
        "CAR04-BIA-M", "CAR04-NER-L", "CAR04-NER-M"]
    assert [len(g["options"]) for g in cardigans[0]["optionGroups"]] == [2, 2]
    assert len(cardigans[0]["optionGroups"]) == 2
    groups = shop.gql("{productOptionGroups(options:{take:100}){items{code}}}")
    codes = [g["code"] for g in groups["productOptionGroups"]["items"]]
    assert len(codes) == len(set(codes)), codes
    made = set(tree(after["collections"])) - set(tree(before["collections"]))
    assert made <= {"Donna", "Donna > Cardigan"} and "Donna > Cardigan" in made
    cashmere = [v for v in after["facets"]["material"]["values"] if v["code"] == "cashmere"]
    assert len(cashmere) == 1
    assert names(cashmere[0])["de"] == "Kaschmir"
    assert after["assets"]["totalItems"] - before["assets"]["totalItems"] == 2
    settled_tree(shop, {**tree(after["collections"]),
                        "Donna > Cardigan": ["CAR04-BIA-M", "CAR04-NER-L", "CAR04-NER-M"]})


def test_a_broken_image_refuses_its_record_naming_the_url(tmp_path, shop, images, env):
    good = images.add("/img/TOP05-ok.png", png(6, 6, (1, 2, 3)))
    missing = images.url("/img/TOP05-missing.png")
    rows = [{**r, "article": "TOP05", "sku": sku, "ean": ean13(ean), "images": pics,
             "category": "Donna > Top", "category_en": "Women > Tops",
             "category_de": "Damen > Tops", "category_fr": "Femme > Hauts"}
            for r, sku, ean, pics in zip(
                [r for r in catalog_rows(images) if r["article"] == "MAG03"],
                ["TOP05-NER-M", "TOP05-BIA-M"], ["801234570001", "801234570002"],
                [good, f"{good}, {missing}"], strict=True)]
    prof = profile(tmp_path, name="broken-image")
    drop(tmp_path, "TOP_1.csv", rows)
    r = run(prof, env)
    assert r.returncode == 1, r.stdout + r.stderr
    [reject] = read_csv(tmp_path / "feedback" / "TOP_1.rejects.csv", ";")
    assert "TOP05-BIA-M" in reject["reason"] and missing in reject["reason"]
    assert "404" in reject["reason"]
    assert shop.variants("TOP05-BIA-M") == []
    [ok] = shop.variants("TOP05-NER-M")
    p = shop.gql("query($i:ID!){product(id:$i){assets{id}}}", {"i": ok["product_id"]})
    assert len(p["product"]["assets"]) == 1  # the good picture, not a silent hole


def test_a_language_the_channel_does_not_offer_stops_the_sink(tmp_path, shop, images, env):
    rows = [{**r, "sku": r["sku"].replace("MAG03", "ES06"), "article": "ES06"}
            for r in catalog_rows(images) if r["article"] == "MAG03"]
    for r in rows:
        r.update({c[:-3] + "_es": v for c, v in r.items() if c.endswith("_fr")})
    prof = profile(tmp_path, languages=["it", "en", "es"], name="spanish")
    (tmp_path / "inbox").mkdir(exist_ok=True)
    cols = [c[:-3] + "_es" if c.endswith("_fr") else c for c in COLUMNS
            if not c.endswith("_de")]
    text = "\n".join([";".join(cols)] + [";".join(r[c] for c in cols) for r in rows]) + "\n"
    (tmp_path / "inbox" / "ES_1.csv").write_text(text, encoding="utf-8")
    res = run(prof, env)
    assert res.returncode == 6, res.stdout + res.stderr  # queued, not lost
    assert "the channel does not offer the language(s) es of map.languages (it offers en, " \
           "it, de, fr)" in res.stderr
    assert shop.variants(rows[0]["sku"]) == []
    [ack] = read_csv(tmp_path / "feedback" / "ES_1.ack.csv", ";")
    assert ack["queued"] == str(len(rows))


def test_the_profile_names_only_languages_vendure_knows(shop, monkeypatch):
    from filebridge.errors import PermanentSinkError
    from filebridge.sinks.api.base import Change, State
    from filebridge.sinks.api.vendure import Catalog, VendureClient, VendureOptions

    monkeypatch.setenv("VENDURE_USER", USER)
    monkeypatch.setenv("VENDURE_PASSWORD", PASSWORD)
    o = VendureOptions.model_validate({"url": shop.url, "username": "${VENDURE_USER}",
                                       "password": "${VENDURE_PASSWORD}"})
    client = VendureClient(o, State(lambda p: []), Catalog(languages=["it", "xx"]))
    try:
        with pytest.raises(PermanentSinkError, match="Vendure has no language code xx"):
            client.send([Change(1, "XX1", "upsert", {"sku": "XX1", "title": "X"}, "i")])
    finally:
        client.close()


def test_without_a_barcode_field_the_barcode_is_not_sent_and_the_log_says_so(
        shop, monkeypatch, caplog):
    from filebridge.sinks.api.base import Change, State
    from filebridge.sinks.api.vendure import VendureClient, VendureOptions

    monkeypatch.setenv("VENDURE_USER", USER)
    monkeypatch.setenv("VENDURE_PASSWORD", PASSWORD)
    o = VendureOptions.model_validate({"url": shop.url, "username": "${VENDURE_USER}",
                                       "password": "${VENDURE_PASSWORD}"})
    client = VendureClient(o, State(lambda p: []))
    try:
        server = client.server()
        server.variant_fields = {}  # as a Vendure without the custom field answers
        res = client.send([Change(1, "NOBAR1", "upsert", {"sku": "NOBAR1", "title": "N",
                                                          "barcode": "8012345000019"}, "i")])
        assert res[0].ok, res[0].message
    finally:
        client.close()
    v = shop.gql("{productVariants(options:{filter:{sku:{eq:\"NOBAR1\"}}}){items{"
                 "customFields{barcode}}}}")["productVariants"]["items"]
    assert v == [{"customFields": {"barcode": None}}]
    assert "no ProductVariant custom field 'barcode'" in caplog.text


def test_check_says_what_vendure_cannot_carry(tmp_path, cli_env):
    prof = profile(tmp_path, name="coverage")
    env = cli_env | {"VENDURE_URL": "http://127.0.0.1:9", "VENDURE_USER": "u",
                     "VENDURE_PASSWORD": "p"}
    r = subprocess.run([sys.executable, "-m", "filebridge", "check", str(prof)], env=env,
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cannot carry" not in r.stdout  # every feature this profile uses lands somewhere


# -- the AS400 collection sample ------------------------------------------------------------
REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "collezione-as400"


def sample_csv(name: str) -> list[dict[str, str]]:
    import csv

    with open(SAMPLE / name, encoding="cp1252", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def test_the_as400_collection_arrives_in_vendure_whole(tmp_path, images, cli_env):
    """profiles/shops/collezione-vendure-api.yaml on the AS400 sample (master,
    translations, code table, photos: 45 articles, four languages), into a Vendure of
    its own, read back whole."""
    import shutil

    codes: dict[tuple[str, str], dict[str, str]] = {}
    for r in sample_csv("TABCOD.csv"):
        codes.setdefault((r["TIPO"], r["CODICE"]), {})[r["LINGUA"]] = r["DESCRIZIONE"]
    names_of: dict[str, dict[str, str]] = {}
    for r in sample_csv("ANATRA_20261127.txt"):
        if r["CAMPO"] == "NOME":
            names_of.setdefault(r["ARTICOLO"], {})[r["LINGUA"]] = r["TESTO"]
    photos: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for i, r in enumerate(sample_csv("ANAFOT_20261127.txt")):
        images.add(f"/collezione/{r['FILE']}", png(1 + i % 40, 1 + i // 40, (i % 250, 60, 90)))
        photos.setdefault((r["ARTICOLO"], r["COLORE"]), []).append((int(r["POSIZIONE"]),
                                                                     r["FILE"]))
    master = []
    for line in (SAMPLE / "ANAART_20261127.txt").read_text("cp1252").splitlines():
        art, col, size = line[0:8].strip(), line[8:11], line[11:15].strip()
        if ("COL", col) in codes:  # the sample's one bad row has an unknown colour
            master.append({"sku": f"{art}-{col}-{size}", "art": art, "col": col,
                           "ean": line[15:28], "cat": line[28:32], "mat": line[32:35]})

    (tmp_path / "profiles" / "shops").mkdir(parents=True)
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    text = (REPO / "profiles" / "shops" / "collezione-vendure-api.yaml").read_text("utf-8")
    prof = tmp_path / "profiles" / "shops" / "collezione-vendure-api.yaml"
    prof.write_text(text.replace("https://cdn.example.com/collezione/",
                                 images.url("/collezione/")), "utf-8")
    inbox = tmp_path / "inbox" / "collezione-vendure"
    inbox.mkdir(parents=True)
    for name in ("ANATRA_20261127.txt", "ANAFOT_20261127.txt", "ANAART_20261127.txt"):
        shutil.copy(SAMPLE / name, inbox)

    with VendureShop(USER, PASSWORD) as own:
        env = cli_env | {"VENDURE_URL": own.url, "VENDURE_USER": USER,
                         "VENDURE_PASSWORD": PASSWORD}
        started = time.monotonic()
        res = run(prof, env)
        took = time.monotonic() - started
        assert res.returncode == 1, res.stdout + res.stderr  # the sample's one bad row
        [ack] = read_csv(tmp_path / "feedback" / "collezione-vendure" /
                         "ANAART_20261127.ack.csv", ";")
        assert (int(ack["sent"]), int(ack["rejected"])) == (len(master), 1)
        print(f"\n{len(master)} SKUs, {len(images.files)} photos into Vendure in {took:.1f}s")

        expected_tree: dict[str, list[str]] = {}
        for m in master:
            path = codes[("CAT", m["cat"])]["it"].split(" > ")
            for depth in range(1, len(path) + 1):
                expected_tree.setdefault(" > ".join(path[:depth]), []).append(m["sku"])
        d = settled_tree(own, {k: sorted(v) for k, v in expected_tree.items()})

        articles = sorted({m["art"] for m in master})
        assert sorted(d["products"]) == sorted(a.lower() for a in articles)
        variants = {v["sku"]: v for p in d["products"].values() for v in p["variants"]}
        assert {s: v["customFields"]["barcode"] for s, v in variants.items()} == {
            m["sku"]: m["ean"] for m in master}
        for art in articles:
            p = d["products"][art.lower()]
            assert names(p) == names_of[art], art
            mine = [m for m in master if m["art"] == art]
            mat = codes.get(("MAT", mine[0]["mat"]))
            if mat:
                [value] = [fv["code"] for fv in p["facetValues"]
                           if fv["facet"]["code"] == "material"]
                facet = next(v for v in d["facets"]["material"]["values"]
                             if v["code"] == value)
                assert names(facet) == mat
            cmp = codes.get(("CMP", mine[0]["mat"]))
            if cmp:
                assert {t["languageCode"]: t["customFields"]["composition"]
                        for t in p["translations"]} == cmp
            # Every photo, colour by colour in the variants' order, each colour's in
            # POSIZIONE order; the first featured.
            colours = list(dict.fromkeys(v["sku"].split("-")[1] for v in p["variants"]))
            want = [f.rsplit(".", 1)[0] for c in colours
                    for _, f in sorted(photos.get((art, c), []))]
            asset = {a["id"]: a["name"] for a in d["assets"]["items"]}
            got = [asset[a["id"]].rsplit("-", 1)[0] for a in p["assets"]]
            assert got == want, art
            assert p["featuredAsset"] == (p["assets"][0] if want else None)
        assert d["assets"]["totalItems"] == len({f for (a, _), fs in photos.items()
                                                 for _, f in fs if a in articles})
        coats = next(c for c in d["collections"] if names(c).get("it") == "Cappotti")
        assert names(coats) == {lang: path.split(" > ")[-1]
                                for lang, path in codes[("CAT", "CAPP")].items()}


# -- photos without a public folder: uploaded by the sink ---------------------------------
ASSET = "{assets(options:{take:1000}){totalItems items{id name fileSize width height mimeType}}}"


def test_photos_without_a_public_folder_are_uploaded_assigned_and_read_back(
        tmp_path, images, cli_env):
    """photos: with no public folder: the photos are checked into the profile's store,
    the records carry photo: references, and the sink uploads the stored bytes with
    createAssets (nothing is downloaded), assigns them in position order and, on a
    later file or after the ledger is lost, uploads nothing again."""
    from ruamel.yaml import YAML

    rows = [dict(row, images="") for row in catalog_rows(images)]
    hits = dict(images.hits)  # the host serves the module's other tests too
    foto = tmp_path / "FOTO"
    foto.mkdir()
    guide = png(8, 4, (0, 120, 0))  # the same picture on two products: one asset
    pictures: dict[str, list[bytes]] = {}
    for art, p in PRODUCTS.items():
        for colour in p["colours"]:
            rgb = COLOURS[colour][2]
            pics = [png(4 + i, 3 + art.count("0") + i, rgb) for i in (1, 2)]
            if art != "MAG03":
                pics.append(guide)
            for i, data in enumerate(pics, 1):
                (foto / f"{art}_{colour}_{i}.png").write_bytes(data)
            pictures.setdefault(art, []).extend(pics)

    def photo_profile(root: Path, name: str) -> Path:
        prof = profile(root, name=name)
        y = YAML()
        data = y.load(prof.read_text("utf-8"))
        data["photos"] = {"folder": str(foto), "pattern": "{article}_{colour}_{position}.png"}
        with open(prof, "w", encoding="utf-8") as f:
            y.dump(data, f)
        return prof

    def asset_name(data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        return f"{sha}-{sha[:16]}.png"  # the stored name's stem, the content's digest

    prof = photo_profile(tmp_path, "vendure-photos")
    with VendureShop(USER, PASSWORD) as own:
        env = cli_env | {"VENDURE_URL": own.url, "VENDURE_USER": USER,
                         "VENDURE_PASSWORD": PASSWORD}
        drop(tmp_path, "FOTO_1.csv", rows)
        r = run(prof, env)
        assert r.returncode == 0, r.stdout + r.stderr
        [ack] = read_csv(tmp_path / "feedback" / "FOTO_1.ack.csv", ";")
        assert (ack["sent"], ack["rejected"]) == (str(len(rows)), "0"), ack
        assert images.hits == hits  # nothing downloaded

        # The store: each distinct picture once, under its digest, bytes intact.
        store = tmp_path / "profiles" / "photos" / "vendure-photos"
        every = {hashlib.sha256(d).hexdigest(): d for ds in pictures.values() for d in ds}
        assert sorted(p.name for p in store.iterdir()) == sorted(f"{s}.png" for s in every)
        assert all((store / f"{s}.png").read_bytes() == d for s, d in every.items())

        d = settled_tree(own, EXPECTED_TREE)
        assets = {a["id"]: a for a in own.gql(ASSET)["assets"]["items"]}
        assert len(assets) == len(every)  # the guide uploaded once
        for art, pics in pictures.items():
            p = d["products"][art.lower()]
            got = [assets[a["id"]] for a in p["assets"]]
            pics = list(dict.fromkeys(pics))  # a picture twice in a product: one asset
            assert [a["name"] for a in got] == [asset_name(x) for x in pics], art
            assert p["featuredAsset"] == p["assets"][0]
            for a, data in zip(got, pics, strict=True):  # read back: Vendure has the bytes
                assert (a["fileSize"], a["mimeType"]) == (len(data), "image/png")
                assert (a["width"], a["height"]) == struct.unpack(">II", data[16:24])

        # A later file: nothing uploaded again.
        drop(tmp_path, "FOTO_2.csv", [dict(r, stock=str(int(r["stock"]) + 1)) for r in rows])
        r = run(prof, env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert own.gql(ASSET)["assets"]["totalItems"] == len(every)

        # The ledger lost (a crash between upload and product update leaves Vendure
        # with assets the ledger does not know): found by name, not uploaded again.
        other = tmp_path / "again"
        other.mkdir()
        prof2 = photo_profile(other, "vendure-photos")
        drop(other, "FOTO_3.csv", rows)
        r = run(prof2, env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert own.gql(ASSET)["assets"]["totalItems"] == len(every)
        p = dump(own)["products"]["gia01"]
        assert [assets[a["id"]]["name"] for a in p["assets"]] == [
            asset_name(x) for x in dict.fromkeys(pictures["GIA01"])]
        assert images.hits == hits
