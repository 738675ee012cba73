"""The department sample (samples/catalogo) through
profiles/shops/catalogo-donna-woocommerce-api.yaml and the CLI into the loopback
WooCommerce: what the shop ends up with (categories, filters, specs, variations,
sale dates, GTINs, images), what a second run sends, and that faults make nothing
twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl
from helpers import read_csv
from shops.woocommerce import WooServer
from test_api_profiles import REPO, run, setup

PROFILE = "catalogo-donna-woocommerce-api.yaml"
SAMPLE = "catalogo/REPARTO_DONNA_FW26.xlsx"
CDN = "https://cdn.moda-italia.example/img"


def env_for(shop: WooServer, cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env | {"WOO_URL": shop.url, "WOO_KEY": "ck_p", "WOO_SECRET": "cs_p"}


def ack(tmp_path: Path, stem: str = "REPARTO_DONNA_FW26") -> dict[str, str]:
    [row] = read_csv(tmp_path / "feedback" / "catalogo-api" / f"{stem}.ack.csv", ";")
    return {k: row[k] for k in ("status", "read", "sent", "unchanged", "rejected", "queued")}


def end_state(shop: WooServer) -> dict[str, Any]:
    """What shoppers and the merchant see, without the shop's ids. A global
    attribute's values list in its terms' order, which follows the order the
    lanes happened to make them in: compared as sets."""
    def own(p: dict[str, Any]) -> dict[str, Any]:
        keep = ("name", "type", "status", "regular_price", "sale_price", "date_on_sale_from",
                "date_on_sale_to", "global_unique_id", "stock_quantity", "weight")
        out = {k: p[k] for k in keep if k in p}
        out["attributes"] = [(a["name"], a.get("option") or (
            sorted(a["options"]) if a["id"] else a["options"]), a.get("variation"))
            for a in p["attributes"]]
        return out
    return {
        "categories": shop.category_paths(),
        "filters": {name: {t: skus for t, skus in shop.filter_index(name).items()}
                    for name in ("Materiale", "Famiglia colore")},
        "products": {sku: {**own(p), "categories": shop.categories_of(sku),
                           "images": shop.images_of(sku), "storefront": shop.shop.storefront(sku),
                           "variations": {v["sku"]: {**own(v), "image": shop.images_of(v["sku"])}
                                          for v in p["variations"]}}
                     for sku, p in shop.catalog().items()}}


def test_the_department_reaches_woocommerce_whole(tmp_path: Path, cli_env: dict[str, str]
                                                  ) -> None:
    prof = setup(tmp_path, PROFILE, SAMPLE, "catalogo-api")
    with WooServer(key="ck_p", secret="cs_p") as shop:
        env = env_for(shop, cli_env)
        checked = subprocess.run([sys.executable, "-m", "filebridge", "check", str(prof)],
                                 env=env, capture_output=True, text=True, timeout=60,
                                 check=True)
        notes = [ln for ln in checked.stdout.splitlines() if ": note: " in ln]
        assert len(notes) == 1 and "cannot carry names, descriptions and option labels in " \
            "the other languages (map.languages en)" in notes[0], checked.stdout
        r = run(prof, env)
        assert r.returncode == 1, r.stdout + r.stderr  # the sample's two bad rows
        assert ack(tmp_path) == {"status": "done", "read": "57", "sent": "55", "unchanged": "0",
                                 "rejected": "2", "queued": "0"}
        # the category tree, each path once, products in their leaves
        assert shop.category_paths() == [
            "Collezione", "Collezione > Essenziali", "Donna", "Donna > Abiti",
            "Donna > Accessori", "Donna > Accessori > Sciarpe", "Donna > Camicie",
            "Donna > Capispalla", "Donna > Capispalla > Cappotti",
            "Donna > Capispalla > Piumini", "Donna > Maglieria", "Donna > Pantaloni",
            "Donna > Scarpe", "Donna > Scarpe > Stivaletti", "Uncategorized"]
        assert shop.categories_of("D26FW1010") == ["Collezione > Essenziali",
                                                   "Donna > Maglieria"]
        assert shop.categories_of("D26FW1001-CAM-M") == ["Donna > Capispalla > Cappotti"]
        # filters: global attributes with their terms, for layered navigation
        assert shop.filter_index("Materiale") == {
            "Cachemire": ["D26FW1010"], "Cotone": ["D26FW1060"],
            "Lana": ["D26FW1001", "D26FW1020", "D26FW1050"], "Nylon": ["D26FW1002"],
            "Pelle": ["D26FW1040"], "Viscosa": ["D26FW1030"]}
        assert shop.filter_index("Famiglia colore")["Marrone"] == ["D26FW1001", "D26FW1040"]
        cat = shop.catalog()
        coat = cat["D26FW1001"]
        attrs = {a["name"]: a for a in coat["attributes"]}
        assert [n for n in attrs] == ["Taglia", "Colore", "Materiale", "Famiglia colore",
                                      "Composizione", "Cura", "Origine"]
        assert attrs["Materiale"]["id"] and not attrs["Materiale"]["variation"]
        # specifications: the product's own attributes, on its page
        assert [(attrs[s]["id"], attrs[s]["visible"], attrs[s]["variation"], attrs[s]["options"])
                for s in ("Composizione", "Cura", "Origine")] == [
            (0, True, False, ["90% lana, 10% cachemire"]), (0, True, False, ["Lavaggio a secco"]),
            (0, True, False, ["Made in Italy"])]
        # variations a shopper can buy, by the right size and colour
        front = shop.shop.storefront("D26FW1001")
        assert front["options"] == {"Taglia": ["XS", "S", "M", "L"],
                                    "Colore": ["Cammello", "Nero"]}
        assert len(front["variations"]) == 7  # NER-XS was refused: its EAN is wrong
        assert front["variations"]["D26FW1001-NER-L"] == {"Taglia": "L", "Colore": "Nero"}
        boots = shop.shop.storefront("D26FW1040")
        assert boots["options"]["Taglia"] == ["36", "37", "37.5", "38", "39"]
        sold = sum(len(shop.shop.storefront(k)["variations"]) for k in cat)
        assert sold == 55
        # sale dates, the last day whole; GTINs
        m = next(v for v in coat["variations"] if v["sku"] == "D26FW1001-CAM-M")
        assert (m["regular_price"], m["sale_price"], m["date_on_sale_from"],
                m["date_on_sale_to"]) == ("459.00", "369.00", "2026-12-01T00:00:00",
                                          "2027-01-06T23:59:59")
        assert m["global_unique_id"] == "8012345600014"
        shirt = next(v for v in cat["D26FW1060"]["variations"] if v["sku"] == "D26FW1060-ECR-M")
        assert (shirt["sale_price"], shirt["date_on_sale_to"]) == ("", None)
        gtins = [v["global_unique_id"] for p in cat.values() for v in p["variations"]]
        assert len(set(gtins)) == 55 and all(len(g) == 13 for g in gtins)
        # every photo in order with its alt text, the variation's own first; each
        # downloaded once
        assert shop.images_of("D26FW1001") == [
            (f"{CDN}/D26FW1001_{c}_{k}.jpg", f"Cappotto doppiopetto in lana - {name}")
            for c, name in (("CAM", "Cammello"), ("NER", "Nero")) for k in (1, 2, 3)]
        assert shop.images_of("D26FW1001-NER-M") == [
            (f"{CDN}/D26FW1001_NER_1.jpg", "Cappotto doppiopetto in lana - Nero")]
        assert len(shop.downloads) == 40 and set(shop.downloads.values()) == {1}

        # the same export saved again (other bytes, the same rows): nothing is sent
        inbox = tmp_path / "inbox" / "catalogo-api"
        wb = openpyxl.load_workbook(REPO / "samples" / SAMPLE)
        wb.save(inbox / "REPARTO_DONNA_FW26_BIS.xlsx")
        before = shop.requests
        assert run(prof, env).returncode == 1
        assert ack(tmp_path, "REPARTO_DONNA_FW26_BIS")["unchanged"] == "55"
        assert shop.requests == before
        # one variant's price changed: that variation alone, in one request
        ws = wb.active
        assert ws is not None  # openpyxl types it optional
        header = [c.value for c in ws[3]]
        row = next(r for r in range(4, ws.max_row + 1)
                   if [ws.cell(r, header.index(k) + 1).value
                       for k in ("ARTICOLO", "COLORE", "TAGLIA")] == ["D26FW1020", "GRI", "42"])
        ws.cell(row, header.index("PREZZO") + 1, 169.0)
        wb.save(inbox / "REPARTO_DONNA_FW27.xlsx")
        calls = len(shop.calls)
        assert run(prof, env).returncode == 1
        assert ack(tmp_path, "REPARTO_DONNA_FW27")["sent"] == "1"
        pid = shop.catalog()["D26FW1020"]["id"]
        assert shop.calls[calls:] == [("POST", f"/products/{pid}/variations/batch", 1)]
        trousers = {v["sku"]: v for v in shop.catalog()["D26FW1020"]["variations"]}
        assert trousers["D26FW1020-GRI-42"]["regular_price"] == "169.00"
        assert trousers["D26FW1020-GRI-44"]["regular_price"] == "179.00"


def test_faults_make_nothing_twice(tmp_path: Path, cli_env: dict[str, str]) -> None:
    with WooServer(key="ck_p", secret="cs_p") as healthy:
        run(setup(tmp_path / "healthy", PROFILE, SAMPLE, "catalogo-api"),
            env_for(healthy, cli_env))
        want = end_state(healthy)
        terms = sum(len(a.terms.terms) for a in healthy.terms.attributes.values())
    with WooServer(key="ck_p", secret="cs_p") as shop:
        f = shop.faults
        # each kind of create answered after it was applied, then lost: the retry
        # meets what it made
        for what in ("POST /wp-json/wc/v3/products/categories/batch",
                     "POST /wp-json/wc/v3/products/attributes",
                     "/terms/batch", "POST /wp-json/wc/v3/products/batch", "variations/batch"):
            f.drop(1, after=True, match=what)
        f.fail(2, 503, match="GET")
        f.fail(1, 429, retry_after=0.01)
        f.drop(1, match="POST")
        r = run(setup(tmp_path / "faults", PROFILE, SAMPLE, "catalogo-api"),
                env_for(shop, cli_env))
        assert r.returncode == 1, r.stdout + r.stderr
        assert not f.queue
        assert ack(tmp_path / "faults")["sent"] == "55"
        assert end_state(shop) == want
        assert max(shop.created.values()) == 1
        assert set(shop.downloads.values()) == {1}
        assert len(shop.terms.attributes) == 2
        assert sum(len(a.terms.terms) for a in shop.terms.attributes.values()) == terms
