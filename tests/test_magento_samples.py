"""The two catalog samples through their profiles into Magento's import files, and what
a Magento shop ends up with after importing them (Products, then Stock Sources), by a
re-implementation of Magento's importer (tests/checkers/magento_importer.py)."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

from checkers.magento_importer import Attr, MagentoShop, import_products, import_sources
from test_samples import REPO, check_ack, run, work  # noqa: F401

SAMPLE = REPO / "samples" / "catalogo" / "REPARTO_DONNA_FW26.xlsx"
COLLECTION = REPO / "samples" / "collezione-as400"


def sheet_values(*columns: str) -> dict[str, list[str]]:
    import openpyxl

    ws = openpyxl.load_workbook(SAMPLE, read_only=True).active
    assert ws is not None  # openpyxl types it optional
    grid = list(ws.iter_rows(min_row=3, values_only=True))
    col = {h: i for i, h in enumerate(grid[0])}
    return {c: sorted({str(r[col[c]]) for r in grid[1:] if r[col[c]] is not None})
            for c in columns}


def donna_shop() -> MagentoShop:
    """The shop as the merchant set it up: the option attributes and their options
    (the product import creates no options), filters, text specifications."""
    v = sheet_values("TAGLIA", "COLORE_NOME", "MATERIALE", "FAMIGLIA_COLORE")
    attrs = [Attr("size", "select", "global", v["TAGLIA"]),
             Attr("color", "select", "global", v["COLORE_NOME"]),
             Attr("material", "select", "global", v["MATERIALE"]),
             Attr("colour_family", "multiselect", "global", v["FAMIGLIA_COLORE"]),
             Attr("composition", "textarea", "store"), Attr("care", "textarea", "store"),
             Attr("origin", "text", "store"), Attr("ean", "text", "global")]
    return MagentoShop(stores={"default": 1, "en": 2}, attributes={a.code: a for a in attrs})


def imported(shop: MagentoShop, out: dict, stem: str) -> None:
    res = import_products(shop, out[f"magento/{stem}.csv"])
    assert not res.errors and not res.dropped_links, (res.errors[:5], res.dropped_links)
    src = import_sources(shop, out[f"magento/{stem}.sources.csv"])
    assert not src.errors and not src.orphans and not src.composite


def test_the_department_reaches_magento_whole(work):
    outcome, out = run(work, "catalogo-donna.yaml", SAMPLE)
    assert outcome.tally.as_dict() == {"read": 57, "sent": 55, "unchanged": 0,
                                       "rejected": 2, "skipped": 0, "queued": 0}
    check_ack(out, outcome)
    shop = donna_shop()
    imported(shop, out, "REPARTO_DONNA_FW26")
    simples = [p for p in shop.products.values() if p.type == "simple"]
    configurables = [p for p in shop.products.values() if p.type == "configurable"]
    assert len(simples) == 55  # every SKU sent, as a child or a simple product
    linked = [c for p in configurables for c in p.children]
    assert len(linked) == len(set(linked)) == len(
        [p for p in simples if p.value("visibility") == "1"])
    coat = shop.product("P-D26FW1001")
    assert len(coat.children) == 7  # NER-XS: its EAN is wrong
    assert [shop.value(c, "size") for c in coat.children[:4]] == ["XS", "S", "S", "M"]
    assert coat.super_labels == {"size": "Taglia", "color": "Colore"}
    assert shop.value("P-D26FW1001", "name") == "Cappotto doppiopetto in lana"
    assert shop.value("P-D26FW1001", "name", "en") == "Double-breasted wool coat"
    assert shop.value("P-D26FW1001", "composition", "en") == "90% wool, 10% cashmere"
    assert shop.value("P-D26FW1001", "composition") == "90% lana, 10% cachemire"
    assert shop.value("P-D26FW1001", "colour_family") == "Marrone|Nero"
    assert coat.categories == {("Default Category", "Donna", "Capispalla", "Cappotti")}
    assert len(coat.gallery) == 6 and coat.gallery[0][1] == (
        "Cappotto doppiopetto in lana - Cammello")
    sweater = shop.product("P-D26FW1010")
    assert sweater.categories == {("Default Category", "Donna", "Maglieria"),
                                  ("Default Category", "Collezione", "Essenziali")}
    scarf = shop.product("D26FW1050-GRI-TU")  # one SKU: a simple product, visible
    assert scarf.value("visibility") == "4" and scarf.value("url_key")
    m = shop.product("D26FW1001-CAM-M")
    assert (m.value("price"), m.value("special_price"), m.value("special_from_date"),
            m.value("special_to_date"), m.value("ean"), m.value("weight")) == (
        "459.00", "369.00", "2026-12-01", "2027-01-06", "8012345600014", "1.85")
    assert shop.source_items[("default", "D26FW1001-CAM-M")] == (7, 1)
    assert len(shop.source_items) == 55


def test_a_changed_sku_the_next_day(work):
    import openpyxl

    _, out = run(work, "catalogo-donna.yaml", SAMPLE)
    shop = donna_shop()
    imported(shop, out, "REPARTO_DONNA_FW26")
    wb = openpyxl.load_workbook(SAMPLE)
    ws = wb.active
    assert ws is not None  # openpyxl types it optional
    col = [c.value for c in ws[3]].index("GIACENZA") + 1
    row = next(r for r in range(4, ws.max_row + 1)
               if (ws.cell(r, 1).value, ws.cell(r, 2).value, ws.cell(r, 3).value)
               == ("D26FW1001", "CAM", "M"))
    ws.cell(row, col).value = 0
    data = io.BytesIO()
    wb.save(data)
    outcome, out = run(work, "catalogo-donna.yaml", SAMPLE,
                       name="REPARTO_DONNA_FW26_2.xlsx", data=data.getvalue())
    assert outcome.tally.as_dict()["sent"] == 7  # Shopify's file rewrites the product whole
    lines = out["magento/REPARTO_DONNA_FW26_2.csv"].read_text().splitlines()
    skus = [ln.split(",")[0] for ln in lines[1:]]
    assert len(skus) == 9 and skus[7:] == ["P-D26FW1001", "P-D26FW1001"]  # the product only
    assert all(s.startswith("D26FW1001-") for s in skus[:7])  # whole: its 7 children
    imported(shop, out, "REPARTO_DONNA_FW26_2")
    assert len(shop.product("P-D26FW1001").children) == 7
    assert shop.source_items[("default", "D26FW1001-CAM-M")] == (0, 0)
    assert shop.product("D26FW1001-CAM-M").in_stock is False


def test_the_as400_collection_in_four_languages(tmp_path):
    (tmp_path / "profiles").mkdir()
    shutil.copy(REPO / "profiles" / "collezione-as400.yaml", tmp_path / "profiles")
    shutil.copytree(COLLECTION, tmp_path / "samples" / "collezione-as400")
    inbox = tmp_path / "inbox" / "collezione"
    inbox.mkdir(parents=True)
    for f in COLLECTION.glob("ANA*_20261127.txt"):
        shutil.copy(f, inbox)
    r = subprocess.run([sys.executable, "-m", "filebridge", "run",
                        str(tmp_path / "profiles" / "collezione-as400.yaml")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr  # the one deliberate bad row
    folder = tmp_path / "outbox" / "magento"
    (sources,) = folder.glob("collezione-*.sources.csv")
    catalog = sources.with_name(sources.name.replace(".sources", ""))
    codes = [ln.split(";") for ln in
             (COLLECTION / "TABCOD.csv").read_text("cp1252").splitlines()[1:]]

    def labels(kind: str) -> list[str]:
        return sorted({c[3] for c in codes if c[0] == kind and c[2] == "it"})

    master = [ln for ln in (COLLECTION / "ANAART_20261127.txt").read_text(
        "cp1252").splitlines() if ln.strip()]
    sizes = sorted({ln[11:15].strip() for ln in master})
    attrs = [Attr("size", "select", "global", sizes),
             Attr("color", "select", "global", labels("COL")),
             Attr("material", "select", "global", labels("MAT")),
             Attr("fit", "select", "global", labels("VES")),
             Attr("composition", "textarea", "store"), Attr("ean", "text", "global")]
    shop = MagentoShop(stores={"default": 1, "en": 2, "de": 3, "fr": 4},
                       attributes={a.code: a for a in attrs})
    res = import_products(shop, catalog)
    assert not res.errors and not res.dropped_links, (res.errors[:5], res.dropped_links)
    src = import_sources(shop, sources)
    assert not src.errors and not src.orphans and not src.composite
    simples = [p for p in shop.products.values() if p.type == "simple"]
    assert len(simples) == len(master) - 1 == len(shop.source_items)
    jacket = shop.product("P-GI26001")
    assert jacket.type == "configurable" and jacket.children
    assert shop.value("P-GI26001", "name") == "Giacca Alba in cotone"
    assert shop.value("P-GI26001", "name", "de") == "Jacke Alba aus Baumwolle"
    assert shop.value("P-GI26001", "name", "fr") and shop.value(
        "P-GI26001", "name", "fr") != shop.value("P-GI26001", "name")
    assert jacket.categories == {("Default Category", "Donna", "Giacche")}
    keys = {(s, shop.value(p.sku, "url_key", s)) for p in shop.products.values()
            if p.value("visibility") == "4" for s in ("default", "en", "de", "fr")}
    visible = [p for p in shop.products.values() if p.value("visibility") == "4"]
    assert len(keys) == 4 * len(visible)  # every store: one key per product
    assert jacket.super_labels == {"size": "Taglia", "color": "Colore"}
    assert Path(catalog).read_text().count(",de,") >= len(visible)
