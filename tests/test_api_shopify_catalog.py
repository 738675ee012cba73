"""The department sample (samples/catalogo, IT + EN) through profiles/shops/
reparto-shopify-api.yaml into the loopback Shopify, through the CLI: what the store
ends up with, read back from the store (translations against the current digests,
collections and membership, metafield definitions and values, prices in force and
per price list, sales channels, images in order with alt text), what a later file
with one changed variant sends (requests counted per kind), and faults."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import read_csv
from openpyxl import load_workbook
from shops.shopify import FAST_RESTORE, TOKEN, ShopifyServer
from shops.shopify.translations import digest

REPO = Path(__file__).resolve().parent.parent
PROFILE = "reparto-shopify-api.yaml"
SAMPLE = REPO / "samples" / "catalogo" / "REPARTO_DONNA_FW26.xlsx"
INBOX = "catalogo-shopify-api"
CHF = "gid://shopify/PriceList/901"
CDN = "https://cdn.moda-italia.example/img"


def sale_running(today: date) -> bool:
    return date(2026, 12, 1) <= today <= date(2027, 1, 6)


def store(**kw: Any) -> ShopifyServer:
    return ShopifyServer(locations=("Magazzino centrale",), locales=("it", "en"),
                         price_lists={CHF: "CHF"}, **kw)


def setup(tmp: Path) -> Path:
    (tmp / "profiles" / "shops").mkdir(parents=True)
    shutil.copy(REPO / "profiles" / "shops" / PROFILE, tmp / "profiles" / "shops")
    (tmp / "inbox" / INBOX).mkdir(parents=True)
    return tmp / "profiles" / "shops" / PROFILE


def drop(tmp: Path, name: str, data: bytes | None = None) -> None:
    (tmp / "inbox" / INBOX / name).write_bytes(SAMPLE.read_bytes() if data is None else data)


def run(prof: Path, shop: ShopifyServer, cli_env: dict[str, str]
        ) -> subprocess.CompletedProcess[str]:
    env = cli_env | {"SHOPIFY_URL": shop.url, "SHOPIFY_TOKEN": TOKEN,
                     "SHOPIFY_PRICE_LIST_CHF": CHF}
    return subprocess.run([sys.executable, "-m", "filebridge", "run", str(prof)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def ack(tmp: Path, stem: str) -> dict[str, str]:
    [row] = read_csv(tmp / "feedback" / INBOX / f"{stem}.ack.csv", ";")
    return row


def collection(shop: ShopifyServer, handle: str) -> dict[str, Any]:
    c = shop.collection(handle)
    assert c is not None, f"no collection {handle}"
    return c


def changed_sheet(tmp: Path, edits: dict[tuple[str, str, str], dict[str, Any]],
                  mark: str = "") -> bytes:
    """The sample with some cells changed: {(article, colour, size): {column: value}};
    ``mark`` goes into the title row (not read), to make another file of the same rows."""
    wb = load_workbook(SAMPLE)
    ws = wb.active
    assert ws is not None  # openpyxl types it optional
    if mark:
        ws.cell(1, 1).value = f"{ws.cell(1, 1).value} ({mark})"
    header = [c.value for c in ws[3]]
    for row in ws.iter_rows(min_row=4):
        key = (str(row[0].value), str(row[1].value), str(row[2].value))
        for column, value in edits.get(key, {}).items():
            row[header.index(column)].value = value
    path = tmp / "changed.xlsx"
    wb.save(path)
    return path.read_bytes()


def translation(shop: ShopifyServer, gid: str, key: str) -> str:
    """The English translation of one key, checked against the content it translates
    (registered with the digest of the resource's current content: not outdated)."""
    value, outdated = shop.translations_of(gid, "en")[key]
    assert not outdated, (gid, key)
    return value


def test_the_department_reaches_shopify_whole(tmp_path, cli_env):
    prof = setup(tmp_path)
    drop(tmp_path, SAMPLE.name)
    with store() as shop:
        r = run(prof, shop, cli_env)
        assert r.returncode == 1, r.stdout + r.stderr  # the sample's two bad rows
        today = date.fromisoformat(ack(tmp_path, "REPARTO_DONNA_FW26")["processed"][:10])
        a = ack(tmp_path, "REPARTO_DONNA_FW26")
        assert (a["read"], a["sent"], a["rejected"], a["queued"]) == ("57", "55", "2", "0")
        cat = shop.catalog()
        assert len(cat) == 8 and sum(len(p["variants"]) for p in cat.values()) == 55
        assert max(shop.created.values()) == 1

        coat = cat["d26fw1001"]
        assert coat["title"] == "Cappotto doppiopetto in lana" and coat["status"] == "ACTIVE"
        assert coat["options"] == {"Taglia": ["XS", "S", "M", "L"],  # the sheet: M, XS, L, S
                                   "Colore": ["Cammello", "Nero"]}
        m = coat["variants"]["D26FW1001-CAM-M"]
        assert m["barcode"] == "8012345600014" and m["weight"] == 1850
        assert m["inventory"] == {"Magazzino centrale": 7}
        # the price in force on the file's date: the sale with the list price struck
        assert (m["price"], m["compareAtPrice"]) == (("369.00", "459.00") if sale_running(
            today) else ("459.00", None))
        sweater = cat["d26fw1010"]["variants"]["D26FW1010-GRI-M"]  # its sale: in January
        assert (sweater["price"], sweater["compareAtPrice"]) == (
            ("199.00", "249.00") if date(2027, 1, 7) <= today <= date(2027, 2, 28)
            else ("249.00", None))
        scarf = cat["d26fw1050"]  # one SKU, nothing to choose: a simple product
        assert scarf["options"] == {"Title": ["Default Title"]}

        # images: every photo in order with its alt text, each variant its colour's first
        assert coat["media"] == [(f"{CDN}/D26FW1001_{c}_{n}.jpg",
                                  f"Cappotto doppiopetto in lana - {name}")
                                 for c, name in (("CAM", "Cammello"), ("NER", "Nero"))
                                 for n in (1, 2, 3)]
        assert m["image"] == f"{CDN}/D26FW1001_CAM_1.jpg"
        assert coat["variants"]["D26FW1001-NER-L"]["image"] == f"{CDN}/D26FW1001_NER_1.jpg"
        assert set(shop.downloads.values()) == {1}  # each photo fetched once

        # translations, each registered against the digest of the current content
        pid = coat["id"]
        assert translation(shop, pid, "title") == "Double-breasted wool coat"
        assert translation(shop, pid, "body_html").startswith("Long double-breasted coat")
        product = shop.products[pid]
        names = {o["name"]: o for o in product["options"]}
        assert translation(shop, names["Taglia"]["id"], "name") == "Size"
        assert translation(shop, names["Colore"]["id"], "name") == "Colour"
        assert translation(shop, names["Colore"]["ids"]["Cammello"], "name") == "Camel"
        assert "name" not in shop.translations_of(names["Taglia"]["ids"]["M"], "en")
        media = product["media"][3]
        assert (media["alt"], translation(shop, media["id"], "alt")) == (
            "Cappotto doppiopetto in lana - Nero", "Double-breasted wool coat - Black")
        # and their digests are the digests of what the shop shows now
        assert shop.translated[(pid, "en", "title")][1] == digest(coat["title"])

        # categories as collections: one per level of each path, the product in each
        assert sorted(collection(shop, "donna")["products"]) == sorted(cat)
        assert collection(shop, "donna-capispalla")["title"] == "Capispalla"
        assert sorted(collection(shop, "donna-capispalla")["products"]) == [
            "d26fw1001", "d26fw1002"]
        assert collection(shop, "donna-capispalla-cappotti")["products"] == ["d26fw1001"]
        assert sorted(collection(shop, "collezione-essenziali")["products"]) == ["d26fw1010"]
        assert len(shop.collections) == len({c["handle"] for c in shop.collections.values()})

        # filters and specs: definitions and typed values (and translated values)
        assert shop.definitions() == {
            "custom.material": {"name": "Materiale", "type": "list.single_line_text_field",
                                "storefront": "PUBLIC_READ"},
            "custom.colour_family": {"name": "Famiglia colore",
                                     "type": "list.single_line_text_field",
                                     "storefront": "PUBLIC_READ"},
            "custom.composition": {"name": "Composizione", "type": "single_line_text_field",
                                   "storefront": "PUBLIC_READ"},
            "custom.care": {"name": "Cura", "type": "single_line_text_field",
                            "storefront": "PUBLIC_READ"},
            "custom.origin": {"name": "Origine", "type": "single_line_text_field",
                              "storefront": "PUBLIC_READ"}}
        fields = shop.metafields_of("d26fw1001")
        assert fields["custom.colour_family"] == ("list.single_line_text_field",
                                                  '["Marrone", "Nero"]')
        assert fields["custom.composition"] == ("single_line_text_field",
                                                "90% lana, 10% cachemire")
        family = next(mf for mf in shop.metafields.values() if mf["owner"] == pid
                      and mf["key"] == "colour_family")
        assert json.loads(translation(shop, family["id"], "value")) == ["Brown", "Black"]

        # the Swiss price list, in its currency; the sales channels named
        prices = shop.fixed_prices(CHF)
        assert len(prices) == 55 and prices["D26FW1001-CAM-M"] == ("489.00", None, "CHF")
        assert all(shop.channels_of(h) == {"Online Store", "Point of Sale"} for h in cat)


def test_a_later_file_sends_only_what_changed(tmp_path, cli_env):
    prof = setup(tmp_path)
    drop(tmp_path, SAMPLE.name)
    with store() as shop:
        assert run(prof, shop, cli_env).returncode == 1
        before = json.dumps(shop.catalog(), sort_keys=True)

        # The same sheet again under another name: nothing to send.
        shop.kinds.clear()
        drop(tmp_path, "REPARTO_DONNA_FW27.xlsx", changed_sheet(tmp_path, {}, "again"))
        run(prof, shop, cli_env)
        assert ack(tmp_path, "REPARTO_DONNA_FW27")["unchanged"] == "55"
        assert sum(shop.kinds.values()) == 0

        # One variant's stock: one productSet (the whole product) and one stock call.
        drop(tmp_path, "REPARTO_DONNA_FW28.xlsx", changed_sheet(tmp_path, {
            ("D26FW1020", "GRI", "42"): {"GIACENZA": 0}}))
        downloads, registered, mf = sum(shop.downloads.values()), shop.registered, \
            shop.metafields_set
        run(prof, shop, cli_env)
        a = ack(tmp_path, "REPARTO_DONNA_FW28")
        assert (a["sent"], a["unchanged"]) == ("1", "54")
        # (and, once per run, the one query that finds the location)
        assert dict(shop.kinds) == {"productSet": 1, "inventorySetQuantities": 1,
                                    "location": 1, "locations": 1}
        assert shop.stock("D26FW1020-GRI-42", "Magazzino centrale") == 0
        assert (sum(shop.downloads.values()), shop.registered, shop.metafields_set) == (
            downloads, registered, mf)

        # One Swiss price and one English title: the price list entry, and the
        # translations of that product (its other parts stay as they are).
        shop.kinds.clear()
        drop(tmp_path, "REPARTO_DONNA_FW29.xlsx", changed_sheet(tmp_path, {
            ("D26FW1020", "GRI", "42"): {"GIACENZA": 0},
            ("D26FW1060", "BLU", "M"): {"PREZZO_CHF": 129}}))
        run(prof, shop, cli_env)
        # (the price list's currency is read once per run)
        assert dict(shop.kinds) == {"productSet": 1, "priceListFixedPricesAdd": 1,
                                    "priceList": 1}
        assert shop.fixed_prices(CHF)["D26FW1060-BLU-M"] == ("129.00", None, "CHF")
        assert shop.fixed_prices(CHF)["D26FW1060-BLU-S"] == ("125.00", None, "CHF")

        shop.kinds.clear()
        edits: dict[tuple[str, str, str], dict[str, Any]] = {
            ("D26FW1060", c, s): {"NOME_EN": "Poplin shirt, new"}
            for c in ("BLU", "ECR") for s in ("S", "M", "L")}
        edits[("D26FW1020", "GRI", "42")] = {"GIACENZA": 0}
        edits[("D26FW1060", "BLU", "M")]["PREZZO_CHF"] = 129
        drop(tmp_path, "REPARTO_DONNA_FW30.xlsx", changed_sheet(tmp_path, edits))
        run(prof, shop, cli_env)
        # (the shop's languages are read once per run)
        assert dict(shop.kinds) == {"productSet": 1, "translatableResourcesByIds": 1,
                                    "translationsRegister": 1, "shopLocales": 1}
        shirt = shop.catalog()["d26fw1060"]
        assert translation(shop, shirt["id"], "title") == "Poplin shirt, new"
        assert json.loads(before)["d26fw1001"] == json.loads(
            json.dumps(shop.catalog()["d26fw1001"]))


class Clock:
    """``time`` for the ledger, at a chosen day: the file's claim date."""

    def __init__(self, day: date):
        import time as real

        self.real, self.at = real, datetime(day.year, day.month, day.day, 9).timestamp()

    def time(self) -> float:
        return self.at

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_sale_is_resent_the_days_it_starts_and_ends(tmp_path, monkeypatch):
    """The price in force is the file's date's: the sheet of 6 January (two sales
    running) and the same sheet on 7 January (those over, the sweater's begun) send
    those three products again, nothing else."""
    import filebridge.ledger.sqlite as ledger_sqlite
    from filebridge.job import Job
    from filebridge.profile import load_profile
    from filebridge.runner import run_files

    monkeypatch.delenv("FILEBRIDGE_LEDGER", raising=False)
    prof = setup(tmp_path)
    with store(restore_rate=FAST_RESTORE) as shop:
        monkeypatch.setenv("SHOPIFY_URL", shop.url)
        monkeypatch.setenv("SHOPIFY_TOKEN", TOKEN)
        monkeypatch.setenv("SHOPIFY_PRICE_LIST_CHF", CHF)

        def run_on(day: date, name: str) -> Any:
            monkeypatch.setattr(ledger_sqlite, "time", Clock(day))
            job = Job(load_profile(prof))
            drop(tmp_path, name, changed_sheet(tmp_path, {}, name))
            [outcome] = run_files(job, [tmp_path / "inbox" / INBOX / name])
            return outcome

        run_on(date(2027, 1, 6), "REPARTO_DONNA_A.xlsx")
        coat = shop.catalog()["d26fw1001"]["variants"]["D26FW1001-CAM-M"]
        assert (coat["price"], coat["compareAtPrice"]) == ("369.00", "459.00")
        sweater = shop.catalog()["d26fw1010"]["variants"]["D26FW1010-GRI-M"]
        assert (sweater["price"], sweater["compareAtPrice"]) == ("249.00", None)
        shop.kinds.clear()
        outcome = run_on(date(2027, 1, 7), "REPARTO_DONNA_B.xlsx")
        coat = shop.catalog()["d26fw1001"]["variants"]["D26FW1001-CAM-M"]
        assert (coat["price"], coat["compareAtPrice"]) == ("459.00", None)
        sweater = shop.catalog()["d26fw1010"]["variants"]["D26FW1010-GRI-M"]
        assert (sweater["price"], sweater["compareAtPrice"]) == ("199.00", "249.00")
        # the coat's 7 good SKUs, the sweater's 9, the cardigan's 6: three productSets
        assert outcome.tally.as_dict()["sent"] == 7 + 9 + 6
        assert dict(shop.kinds) == {"productSet": 3}
        shop.kinds.clear()
        outcome = run_on(date(2027, 1, 8), "REPARTO_DONNA_C.xlsx")  # a day like any other
        assert outcome.tally.as_dict()["sent"] == 0 and sum(shop.kinds.values()) == 0


def end_state(shop: ShopifyServer) -> dict[str, Any]:
    """What a shopper and a merchant see, without the shop's ids."""
    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k != "id"}
        return v

    cat = strip(shop.catalog())
    return {"catalog": cat,
            "collections": sorted((c["handle"], c["title"], sorted(
                shop.products[p]["handle"] for p in c["products"]))
                for c in shop.collections.values()),
            "definitions": shop.definitions(),
            "metafields": {h: shop.metafields_of(h) for h in cat},
            "channels": {h: sorted(shop.channels_of(h)) for h in cat},
            "prices": shop.fixed_prices(CHF),
            "translations": sorted((g.split("/")[-2], loc, k, v) for (g, loc, k), (v, _)
                                   in shop.translated.items() if shop.content(g))}


@pytest.mark.parametrize("faults", ["throttled", "errors", "lost answers"])
def test_faults_create_nothing_twice(tmp_path, cli_env, faults):
    with store() as healthy:
        prof = setup(tmp_path / "healthy")
        drop(tmp_path / "healthy", SAMPLE.name)
        assert run(prof, healthy, cli_env).returncode == 1
        want = end_state(healthy)
    with store() as shop:
        prof = setup(tmp_path / "faulty")
        drop(tmp_path / "faulty", SAMPLE.name)
        if faults == "throttled":  # a bucket another app emptied, and HTTP 429s
            shop.drain_before, shop.restore = 1, 400.0
            shop.faults.fail(3, status=429, retry_after=0.01)
        elif faults == "errors":
            shop.faults.ok(12)
            shop.faults.fail(2, status=503)
            shop.faults.fail(1, status=502)
            shop.faults.ok(10)
            shop.faults.fail(2, status=500)
        else:  # applied, but the answer never arrives: the client sends it again
            shop.faults.ok(6)
            for _ in range(12):
                shop.faults.drop(1, after=True)
                shop.faults.ok(3)
        r = run(prof, shop, cli_env)
        a = ack(tmp_path / "faulty", "REPARTO_DONNA_FW26")
        assert (a["sent"], a["rejected"], a["queued"]) == ("55", "2", "0"), r.stderr
        assert not shop.faults.queue or faults == "lost answers"
        got = end_state(shop)
        assert got == want
        # nothing twice: one product per article, one collection per handle, one
        # definition per key, one metafield per product and key
        assert len(shop.products) == 8 and len(shop.collections) == len(want["collections"])
        assert Counter((m["owner"], m["key"]) for m in shop.metafields.values()
                       ).most_common(1)[0][1] == 1
        if faults == "throttled":
            assert shop.throttled > 0
        if faults == "lost answers":
            assert shop.requests > healthy.requests


def test_a_language_the_shop_has_not_added_is_said_plainly(tmp_path, cli_env):
    prof = setup(tmp_path)
    drop(tmp_path, SAMPLE.name)
    with ShopifyServer(locations=("Magazzino centrale",), locales=("it",),
                       price_lists={CHF: "CHF"}) as shop:
        r = run(prof, shop, cli_env)
        out = r.stdout + r.stderr
        assert "has not added the language(s) en" in out, out
        assert "Settings > Languages" in out
        a = ack(tmp_path, "REPARTO_DONNA_FW26")
        assert a["queued"] == "55"  # nothing lost: sent again once English is added
        assert shop.translated == {}
        shop.shop_locales.append("en")
        shop.kinds.clear()
        drop(tmp_path, "REPARTO_DONNA_FW27.xlsx", changed_sheet(tmp_path, {}, "again"))
        r = run(prof, shop, cli_env)
        coat = shop.catalog()["d26fw1001"]
        assert translation(shop, coat["id"], "title") == "Double-breasted wool coat"
        assert max(shop.created.values()) == 1


def test_unknown_channel_and_price_list_are_named(tmp_path, cli_env):
    for n, (lists, channels, said) in enumerate((
            ({"gid://shopify/PriceList/7": "CHF"}, ("Online Store", "Point of Sale"),
             f"price list {CHF} (prices:) does not exist"),
            ({CHF: "CHF"}, ("Online Store",), ("sales channel(s) Point of Sale "
             "(publications:) not found; the shop's channels: Online Store")))):
        prof = setup(tmp_path / str(n))
        drop(tmp_path / str(n), SAMPLE.name)
        with ShopifyServer(locations=("Magazzino centrale",), locales=("it", "en"),
                           price_lists=lists, channels=channels) as shop:
            r = run(prof, shop, cli_env)
            assert said in r.stdout + r.stderr, r.stdout + r.stderr
