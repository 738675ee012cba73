"""The example shop-API profiles (profiles/shops/) on the bundled samples, against
the loopback shops: what the samples hold arrives, the bad rows are refused as
they are for the import-file profiles, and a second run sends nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers import read_csv
from shops.shopify import TOKEN, ShopifyServer
from shops.woocommerce import WooServer

REPO = Path(__file__).resolve().parent.parent


def setup(tmp_path: Path, profile: str, sample: str, inbox: str) -> Path:
    (tmp_path / "profiles" / "shops").mkdir(parents=True)
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    shutil.copy(REPO / "profiles" / "shops" / profile, tmp_path / "profiles" / "shops")
    (tmp_path / "inbox" / inbox).mkdir(parents=True)
    shutil.copy(REPO / "samples" / sample, tmp_path / "inbox" / inbox)
    return tmp_path / "profiles" / "shops" / profile


def run(prof: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", "run", str(prof)], env=env,
                          capture_output=True, text=True, timeout=120)


def test_stock_list_into_woocommerce_variable_products(tmp_path, cli_env):
    prof = setup(tmp_path, "giacenze-woocommerce-api.yaml", "giacenze/GIACENZE_20261127.csv",
                 "giacenze-api")
    with WooServer(key="ck_p", secret="cs_p") as shop:
        env = cli_env | {"WOO_URL": shop.url, "WOO_KEY": "ck_p", "WOO_SECRET": "cs_p"}
        r = run(prof, env)
        assert r.returncode == 1, r.stdout + r.stderr  # the sample's three bad rows
        [ack] = read_csv(tmp_path / "feedback" / "giacenze-api" / "GIACENZE_20261127.ack.csv",
                         ";")
        assert (ack["read"], ack["sent"], ack["rejected"]) == ("23", "20", "3")
        cat = shop.catalog()
        variations = [v for p in cat.values() for v in p["variations"]]
        assert len(variations) == 20 and all(p["type"] == "variable" for p in cat.values())
        assert all(v["manage_stock"] and v["regular_price"] for v in variations)
        # The same export again (a re-export under a new name): nothing to send.
        again = tmp_path / "inbox" / "giacenze-api" / "GIACENZE_20261128.csv"
        again.write_bytes((REPO / "samples/giacenze/GIACENZE_20261127.csv").read_bytes()
                          + b"\r\n")
        before = shop.requests
        assert run(prof, env).returncode == 1
        assert shop.requests == before


def test_article_master_into_shopify_products_with_variants(tmp_path, cli_env):
    prof = setup(tmp_path, "articoli-shopify-api.yaml", "articoli/ARTICOLI_20261127.txt",
                 "articoli-api")
    with ShopifyServer(locations=("Magazzino centrale",)) as shop:
        env = cli_env | {"SHOPIFY_URL": shop.url, "SHOPIFY_TOKEN": TOKEN}
        r = run(prof, env)
        assert r.returncode == 1, r.stdout + r.stderr
        [ack] = read_csv(tmp_path / "feedback" / "articoli-api" / "ARTICOLI_20261127.ack.csv",
                         ";")
        assert int(ack["rejected"]) == 3 and int(ack["sent"]) == int(ack["read"]) - 3
        cat = shop.catalog()
        assert sum(len(p["variants"]) for p in cat.values()) == int(ack["sent"])
        assert all(set(p["options"]) <= {"Taglia", "Colore"} for p in cat.values())
        stock = [v["inventory"].get("Magazzino centrale") for p in cat.values()
                 for v in p["variants"].values()]
        assert all(q is not None and q >= 0 for q in stock)
