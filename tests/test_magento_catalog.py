"""The department sample (samples/catalogo) through profiles/shops/catalogo-donna-
magento-api.yaml and the CLI into the loopback Magento, whose end state is read back:
configurables and their children, English in the English store view, the category
tree, filter options with their English labels, specifications, EANs, special prices
with their dates, a Swiss website price, and every photo in order with its label.
A second run with one changed variant sends only that variant; a run through faults
makes nothing twice."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers import read_csv
from shops.images import ImageHost
from shops.magento import TOKEN, MagentoServer

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "catalogo" / "REPARTO_DONNA_FW26.xlsx"
PROFILE = "catalogo-donna-magento-api.yaml"
CDN = "https://cdn.moda-italia.example/img"
STEM = "REPARTO_DONNA_FW26"


def magento() -> MagentoServer:
    """A shop set up as the profile says it must be: Italian default view and an
    English one in website base, the website ch, Catalog Price Scope = Website, and
    the attributes in the Default set."""
    shop = MagentoServer(store_views={"default": "base", "default_en": "base",
                                      "ch_it": "ch"}, price_scope="website")
    shop.add_attribute("size", "select", "global")
    shop.add_attribute("material", "select", "global")
    shop.add_attribute("colour_family", "select", "global")
    for code in ("composition", "care", "origin"):
        shop.add_attribute(code, "text", "store", filterable=0)
    shop.add_attribute("ean", "text", "global", filterable=0)
    return shop


def drop(tmp: Path, images: str, name: str = f"{STEM}.xlsx",
         change: dict[str, dict[str, Any]] | None = None) -> None:
    """The sample into the inbox, its photo URLs on the loopback image host, and
    ``change``: SKU -> {column: value}."""
    wb = openpyxl.load_workbook(SAMPLE)
    ws = wb.active
    assert ws is not None  # openpyxl types it optional
    header = [c.value for c in ws[3]]
    col = {h: i for i, h in enumerate(header)}
    for row in ws.iter_rows(min_row=4):
        if row[col["FOTO"]].value:
            row[col["FOTO"]].value = str(row[col["FOTO"]].value).replace(CDN, images + "/img")
        sku = f"{row[col['ARTICOLO']].value}-{row[col['COLORE']].value}-{row[col['TAGLIA']].value}"
        for column, value in (change or {}).get(sku, {}).items():
            row[col[column]].value = value
    inbox = tmp / "inbox" / "catalogo-magento"
    inbox.mkdir(parents=True, exist_ok=True)
    wb.save(inbox / name)


def setup(tmp: Path) -> Path:
    (tmp / "profiles" / "shops").mkdir(parents=True)
    shutil.copy(REPO / "profiles" / "shops" / PROFILE, tmp / "profiles" / "shops")
    return tmp / "profiles" / "shops" / PROFILE


def run(prof: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", "run", str(prof)], env=env,
                          capture_output=True, text=True, timeout=240, check=False)


def ack(tmp: Path, stem: str = STEM) -> dict[str, str]:
    [row] = read_csv(tmp / "feedback" / "catalogo-magento" / f"{stem}.ack.csv", ";")
    return row


def end_state(shop: MagentoServer) -> dict[tuple[str, str] | str, Any]:
    """What the shop shows, without its ids: for comparing two loads."""
    out: dict[tuple[str, str] | str, Any] = {}
    for store in ("all", "default_en", "ch_it"):
        for sku, p in shop.catalog(store).items():
            attrs = {k: (shop.label_of(k, v, store) if k in ("size", "color", "material",
                                                              "colour_family") else v)
                     for k, v in p["custom_attributes"].items()
                     if k not in ("image", "small_image", "thumbnail")}
            out[(store, sku)] = (p["type_id"], p["name"], p["price"], p["visibility"],
                                 p["status"], attrs, p["stock"])
    for sku in list(shop.products):
        conf = shop.configurable(sku)
        out[("conf", sku)] = (conf["options"], sorted(conf["children"]))
        out[("gallery", sku)] = [(g["sha256"], g["label"], g["position"], g["types"])
                                 for g in shop.gallery(sku)]
        out[("categories", sku)] = shop.category_paths(sku)
    names = shop.category_names()
    out["tree"] = sorted(tuple(names[ids[:i + 1]] for i in range(len(ids))) for ids in names)
    return out


@pytest.fixture
def images():
    with ImageHost() as host:
        yield host


def test_the_collection_reaches_magento_whole(tmp_path, cli_env, images):
    prof = setup(tmp_path)
    drop(tmp_path, images.url)
    with magento() as shop:
        env = cli_env | {"MAGENTO_URL": shop.url, "MAGENTO_TOKEN": TOKEN}
        r = run(prof, env)
        assert r.returncode == 1, r.stdout + r.stderr  # the sample's two bad rows
        a = ack(tmp_path)
        assert (a["read"], a["sent"], a["rejected"]) == ("57", "55", "2")
        cat, en, ch = shop.catalog("all"), shop.catalog("default_en"), shop.catalog("ch_it")

        # Configurables with their children; the scarf, one SKU, a visible simple.
        parents = sorted(s for s, p in cat.items() if p["type_id"] == "configurable")
        assert parents == ["D26FW1001", "D26FW1002", "D26FW1010", "D26FW1020", "D26FW1030",
                           "D26FW1040", "D26FW1060"]
        coat = cat["D26FW1001"]
        assert (coat["name"], coat["visibility"], coat["status"]) == (
            "Cappotto doppiopetto in lana", 4, 1)
        conf = shop.configurable("D26FW1001")
        assert conf["options"] == [("size", "Taglia", 0), ("color", "Colore", 1)]
        assert len(conf["children"]) == 7  # NER-XS: its EAN is wrong, refused
        assert all(cat[c]["visibility"] == 1 and cat[c]["type_id"] == "simple"
                   for p in parents for c in shop.configurable(p)["children"])
        assert sum(len(shop.configurable(p)["children"]) for p in parents) == 54
        scarf = cat["D26FW1050-GRI-TU"]
        assert (scarf["type_id"], scarf["visibility"]) == ("simple", 4)
        assert shop.label_of("size", scarf["custom_attributes"]["size"]) == "TU"
        # Sizes in the scale's order for every product (the sheet had M, XS, L, S).
        sizes = shop.ordered_labels("size")
        assert [s for s in sizes if s in ("XS", "S", "M", "L", "XL")] == [
            "XS", "S", "M", "L", "XL"]
        assert [s for s in sizes if s[0].isdigit()] == ["36", "37", "37.5", "38", "39",
                                                         "40", "42", "44"]

        # English in the English store view, Italian as the default.
        assert en["D26FW1001"]["name"] == "Double-breasted wool coat"
        assert en["D26FW1001"]["custom_attributes"]["description"].startswith("Long double")
        assert shop.catalog("default")["D26FW1001"]["name"] == "Cappotto doppiopetto in lana"
        child = cat["D26FW1001-CAM-M"]
        assert shop.label_of("color", child["custom_attributes"]["color"]) == "Cammello"
        assert shop.label_of("color", child["custom_attributes"]["color"],
                             "default_en") == "Camel"

        # Categories: the tree made once, each product linked to its paths' leaves.
        assert shop.category_paths("D26FW1010") == ["Collezione > Essenziali",
                                                    "Donna > Maglieria"]
        assert shop.category_paths("D26FW1001") == ["Donna > Capispalla > Cappotti"]
        assert shop.category_paths("D26FW1001-CAM-M") == []  # children are not listed
        names = sorted(shop.category_names().values())
        assert names.count("Donna") == 1 and names.count("Capispalla") == 1

        # Filters (options with English labels), specifications per store view, EANs.
        ca = coat["custom_attributes"]
        assert shop.label_of("material", ca["material"]) == "Lana"
        assert shop.label_of("material", ca["material"], "default_en") == "Wool"
        assert "colour_family" not in ca  # the variants differ: each child has its own
        assert shop.label_of("colour_family", child["custom_attributes"]["colour_family"],
                             "default_en") == "Brown"
        assert ca["composition"] == "90% lana, 10% cachemire"
        assert en["D26FW1001"]["custom_attributes"]["composition"] == "90% wool, 10% cashmere"
        assert ca["origin"] == "Made in Italy"
        assert child["custom_attributes"]["ean"] == "8012345600014"

        # The sale: Magento's special price with its dates; the shop applies it itself.
        assert child["price"] == Decimal("459.00")
        assert child["custom_attributes"]["special_price"] == "369.00"
        assert (child["custom_attributes"]["special_from_date"],
                child["custom_attributes"]["special_to_date"]) == (
            "2026-12-01 00:00:00", "2027-01-06 00:00:00")
        day = dt.date
        assert shop.final_price("D26FW1001-CAM-M", day(2026, 11, 30)) == Decimal("459.00")
        assert shop.final_price("D26FW1001-CAM-M", day(2026, 12, 1)) == Decimal("369.00")
        assert shop.final_price("D26FW1001-CAM-M", day(2027, 1, 6)) == Decimal("369.00")
        assert shop.final_price("D26FW1001-CAM-M", day(2027, 1, 7)) == Decimal("459.00")
        # Switzerland: its own price, and the euro sale does not leak into it.
        assert ch["D26FW1001-CAM-M"]["price"] == Decimal("489.00")
        assert shop.final_price("D26FW1001-CAM-M", day(2026, 12, 15), "ch_it") == \
            Decimal("489.00")
        assert shop.final_price("D26FW1060-ECR-M", day(2026, 12, 15), "ch_it") == \
            Decimal("125.00")
        assert cat["D26FW1060-ECR-M"]["price"] == Decimal("119.00")

        # Photos: the configurable shows every colour's, in order, with labels; each
        # child its own; each picture downloaded once.
        gallery = shop.gallery("D26FW1001")
        want = [f"/img/D26FW1001_{c}_{k}.jpg" for c in ("CAM", "NER") for k in (1, 2, 3)]
        assert [g["sha256"] for g in gallery] == [_sha(images.bytes_of(u)) for u in want]
        assert [g["position"] for g in gallery] == [1, 2, 3, 4, 5, 6]
        assert gallery[0]["types"] == ["image", "small_image", "thumbnail"]
        assert gallery[0]["label"] == "Cappotto doppiopetto in lana - Cammello"
        assert gallery[3]["label"] == "Cappotto doppiopetto in lana - Nero"
        assert [g["sha256"] for g in shop.gallery("D26FW1001-NER-L")] == [
            _sha(images.bytes_of(u)) for u in want[3:]]
        assert max(images.hits.values()) == 1

        # Stock in the default source.
        assert child["stock"]["default"][0] >= 0

        # The same file again under a new name: nothing to send.
        before = len(shop.writes)
        drop(tmp_path, images.url, f"{STEM}_2.xlsx")
        assert run(prof, env).returncode == 1
        assert shop.writes[before:] == []

        # One variant's price changes: only that variant is sent.
        drop(tmp_path, images.url, f"{STEM}_3.xlsx",
             {"D26FW1060-ECR-M": {"PREZZO": 129.0}})
        assert run(prof, env).returncode == 1
        a = ack(tmp_path, f"{STEM}_3")
        assert (a["sent"], a["unchanged"]) == ("1", "54")
        assert [w.split("?")[0] for w in shop.writes[before:]] == [
            "PUT /rest/all/V1/products/D26FW1060-ECR-M",
            "POST /rest/all/V1/products/base-prices",
            "POST /rest/all/V1/inventory/source-items"]
        assert shop.catalog("all")["D26FW1060-ECR-M"]["price"] == Decimal("129.00")
        assert max(images.hits.values()) == 1


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_faults_make_nothing_twice(tmp_path, cli_env, images):
    """Answers lost after the shop acted (a category, an option, a product with new
    photos, a configurable), 503s and an image host hiccup: the shop ends as a
    healthy load leaves it, with no category, option or photo made twice."""
    healthy_dir, faulty_dir = tmp_path / "healthy", tmp_path / "faulty"
    results = []
    for folder, faulty in ((healthy_dir, False), (faulty_dir, True)):
        prof = setup(folder)
        drop(folder, images.url)
        with magento() as shop:
            if faulty:
                shop.faults.drop_after(1, match="POST /rest/all/V1/categories")
                shop.faults.drop_after(1, match="/V1/products/attributes/size/options")
                shop.faults.drop_after(1, match="PUT /rest/all/V1/products/D26FW1001-CAM-M")
                shop.faults.drop_after(1, match="PUT /rest/all/V1/products/D26FW1002 ")
                shop.faults.fail(2, status=503, match="PUT /rest/all/V1/products/D26FW1010")
                shop.faults.drop(1, match="PUT /rest/default_en/V1/products/D26FW1020")
            env = cli_env | {"MAGENTO_URL": shop.url, "MAGENTO_TOKEN": TOKEN}
            r = run(prof, env)
            if r.returncode == 6:  # something stayed queued: the next run sends it
                r = run(prof, env)
            assert r.returncode == 1, r.stdout + r.stderr
            assert not shop.faults.queue or not faulty
            results.append((end_state(shop), shop.category_creates, shop.option_creates,
                            shop.uploads))
    healthy, faulty_ = results
    assert faulty_[1:] == healthy[1:]  # categories, options, uploads: none twice
    assert faulty_[0] == healthy[0]
