"""End to end with ``ledger: postgresql://...`` on a real server (tests/pgserver.py),
through the CLI: a catalog spreadsheet into shop files in mode: changes (run twice: the
second run finds everything unchanged, from the catalog memory and snapshots kept in
PostgreSQL), a shared-stock flow (ERP figures, store receipts, movement files, the
ERP's acks, status), and the profile rules for the URL and its password."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from conftest import write_profile
from helpers import read_csv
from pgserver import PASSWORD_ENV
from ruamel.yaml import YAML
from shops.woocommerce import WooServer
from test_stock import LAYOUT, sale

from filebridge.errors import ProfileError
from filebridge.ledger import Ledger, open_target
from filebridge.profile import load_profile
from filebridge.stock.inventory import Inventory
from filebridge.stock.spec import StockSpec

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "catalogo" / "REPARTO_DONNA_FW26.xlsx"
SECRET = "${" + PASSWORD_ENV + "}"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("FILEBRIDGE_LEDGER", None)
    env.pop("PGPASSWORD", None)  # the password comes from the profile's secret
    return subprocess.run([sys.executable, "-m", "filebridge", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def open_pg(url: str, home: Path) -> Ledger:
    return open_target(url, os.environ[PASSWORD_ENV], home=home)


def test_a_catalog_run_twice_on_postgresql_finds_everything_unchanged(tmp_path, ledger_url):
    shutil.copytree(REPO / "profiles", tmp_path / "profiles",
                    ignore=shutil.ignore_patterns("*.db", "*.db-*"))
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    path = tmp_path / "profiles" / "catalogo-donna.yaml"
    yaml = YAML()
    data = yaml.load(path.read_text(encoding="utf-8"))
    data["ledger"] = ledger_url
    data["ledger_password"] = SECRET
    data["once"] = "name_and_content"  # the same sheet under a new name is a new file
    data["source"]["ready"]["stable_for"] = "0s"
    with open(path, "w", encoding="utf-8") as f:
        yaml.dump(data, f)
    inbox = tmp_path / "inbox" / "catalogo"
    inbox.mkdir(parents=True)
    shutil.copy(SAMPLE, inbox / "REPARTO_DONNA_FW26.xlsx")
    r = cli("run", str(path), cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr  # two rows of the sample are rejected
    first = read_csv(tmp_path / "feedback" / "catalogo" / "REPARTO_DONNA_FW26.ack.csv", ";")[0]
    assert (first["read"], first["sent"], first["unchanged"]) == ("57", "55", "0")
    shutil.copy(SAMPLE, inbox / "REPARTO_DONNA_FW26_BIS.xlsx")
    r = cli("run", str(path), cwd=tmp_path)
    second = read_csv(tmp_path / "feedback" / "catalogo" / "REPARTO_DONNA_FW26_BIS.ack.csv",
                      ";")[0]
    assert (second["read"], second["sent"], second["unchanged"]) == ("57", "0", "55"), r.stdout
    assert not (tmp_path / "profiles" / "filebridge.db").exists()  # no SQLite beside it
    led = open_pg(ledger_url, tmp_path)
    files = led.recent_files(profile="catalogo-donna")
    assert [(f["name"], f["status"]) for f in files] == [
        ("REPARTO_DONNA_FW26_BIS.xlsx", "done"), ("REPARTO_DONNA_FW26.xlsx", "done")]
    per_sink = led.db.execute("SELECT sink, count(*) FROM catalog GROUP BY sink").fetchall()
    # one catalog memory per output of the profile, each holding the 55 products sent
    assert len(per_sink) == len(data["write"]) and all(n == 55 for _, n in per_sink), per_sink
    st = cli("status", "--profile", str(path), cwd=tmp_path)
    assert "REPARTO_DONNA_FW26_BIS.xlsx [catalogo-donna] done" in st.stdout, st.stderr
    password = os.environ[PASSWORD_ENV]
    for out in (r, st):
        assert password not in out.stdout + out.stderr


SHOP = partial(WooServer, key="ck_s", secret="cs_s")


def stock_profile(workdir: Path, url: str, name: str, role: str, stock: dict,
                  fields: dict | None = None) -> Path:
    data = {
        "name": name,
        "source": {"kind": "local", "path": f"../inbox/{name}", "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";",
                 "fields": fields or {"QTY": {"type": "integer"}}},
        "map": {"key": "sku"},
        "stock": {"inventory": "shared", "role": role, "quantity": "QTY", "sku": "SKU"} | stock,
        "write": [{"format": "woocommerce_api", "url": "${WOO_URL}", "sync": "stock",
                   "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}",
                   "fields": {"sku": "sku", "stock": "stock"},
                   "limits": {"max_backoff": 0.05}}],
        "feedback": {"ack": {"path": f"../feedback/{name}/{{stem}}.ack.csv"}},
        "ledger": url, "ledger_password": SECRET,
    }
    (workdir / "inbox" / name).mkdir(parents=True, exist_ok=True)
    return write_profile(workdir, data, f"{name}.yaml")


def test_shared_stock_on_postgresql(workdir, shop, ledger_url, monkeypatch):
    monkeypatch.setenv("WOO_URL", shop.url)
    monkeypatch.setenv("WOO_SECRET", "cs_s")
    monkeypatch.setenv("WOO_KEY", "ck_s")
    for sku, qty in (("A", 5), ("B", 2), ("C", 9)):
        shop.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                          "stock_quantity": qty})
    erp = stock_profile(workdir, ledger_url, "erp", "figures", {
        "as_of": {"name": r"STOCK_(\d{8}_\d{4})", "timezone": "UTC"},
        "safety": [{"sku": "C", "qty": 2}], "erp_knows": "acknowledged", "overdue": "0s",
        "orders": False, "feedback": {"path": "../outbox/erp/MOV{seq:06d}.txt",
                                      "format": "fixed", "fields": LAYOUT,
                                      "encoding": "cp1252"}})
    pos = stock_profile(workdir, ledger_url, "pos", "movements",
                        {"receipt": "RECEIPT", "at": "WHEN"})
    acks = write_profile(workdir, {
        "name": "erp-acks", "source": {"kind": "local", "path": "../inbox/acks",
                                       "pattern": ["*.csv"], "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";", "fields": {"SEQ": {"type": "integer"}}},
        "stock": {"inventory": "shared", "role": "acks", "ack": "SEQ"},
        "write": [], "ledger": ledger_url, "ledger_password": SECRET}, "acks.yaml")
    (workdir / "inbox" / "acks").mkdir()
    inv = Inventory(open_pg(ledger_url, workdir),
                    StockSpec.model_validate({"inventory": "shared"}))
    inv.record_orders("web:woo", [sale("W1", "A", 1, "02:05")])  # the puller's job
    (workdir / "inbox" / "erp" / "STOCK_20261127_0200.csv").write_text(
        "SKU;QTY\nA;5\nB;2\nC;9\nB;0\n", encoding="utf-8")
    r = cli("run", str(erp), cwd=workdir)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {k: p["stock_quantity"] for k, p in shop.catalog().items()} == {
        "A": 4, "B": 0, "C": 7}
    (workdir / "inbox" / "pos" / "POS_1.csv").write_text(
        "RECEIPT;SKU;QTY;WHEN\nR9;C;3;2026-11-27T02:40:00+00:00\n", encoding="utf-8")
    assert cli("run", str(pos), cwd=workdir).returncode == 0
    assert shop.catalog()["C"]["stock_quantity"] == 4

    r = cli("feedback", str(erp), "--no-pull", cwd=workdir)
    assert r.returncode == 1 and "not acknowledged by the ERP" in r.stderr, r.stderr
    assert (workdir / "outbox" / "erp" / "MOV000001.txt").exists()
    (workdir / "inbox" / "acks" / "ACK_1.csv").write_text("SEQ\n1\n", encoding="utf-8")
    r = cli("run", str(acks), cwd=workdir)
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli("feedback", str(erp), "--no-pull", cwd=workdir)
    assert r.returncode == 0 and "not acknowledged" not in r.stderr, r.stderr
    st = cli("status", "--profile", str(erp), cwd=workdir)
    assert "inventory shared:" in st.stdout and "acknowledged=1" in st.stdout, st.stdout
    assert "awaiting_ack=0" in st.stdout and "store=1" in st.stdout, st.stdout
    r = cli("reconcile", str(erp), cwd=workdir)
    assert r.returncode == 0 and "0 drifting" in r.stdout, r.stdout + r.stderr


def test_a_password_in_the_ledger_url_is_refused_without_echoing_it(workdir):
    path = write_profile(workdir, {
        "name": "p", "source": {"kind": "local", "path": "../inbox"},
        "read": {"format": "csv"}, "write": [{"format": "csv", "path": "../out/{stem}.csv"}],
        "ledger": "postgresql://fb:s3cr3t-pw@db.example:5432/filebridge"})
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    assert "password written in the ledger URL is refused" in str(e.value)
    assert "s3cr3t-pw" not in str(e.value)
    r = cli("check", str(path), cwd=workdir)
    assert r.returncode != 0 and "refused" in r.stderr + r.stdout
    assert "s3cr3t-pw" not in r.stdout + r.stderr


def test_the_url_and_its_secret_and_the_local_home(workdir, monkeypatch):
    monkeypatch.setenv("PG_PW", "pw")
    path = write_profile(workdir, {
        "name": "p", "source": {"kind": "local", "path": "../inbox"},
        "read": {"format": "csv"}, "write": [{"format": "csv", "path": "../out/{stem}.csv"}],
        "ledger": "postgresql://fb@db.example:5432/filebridge", "ledger_password": "${PG_PW}"})
    prof = load_profile(path)
    assert prof.ledger_path() == "postgresql://fb@db.example:5432/filebridge"
    assert prof.ledger_password is not None and prof.ledger_password.reveal() == "pw"
    assert prof.local_home == workdir / "profiles" / ".filebridge"
    literal = write_profile(workdir, {
        "name": "p", "source": {"kind": "local", "path": "../inbox"},
        "read": {"format": "csv"}, "write": [{"format": "csv", "path": "../out/{stem}.csv"}],
        "ledger": "postgresql://fb@db.example/filebridge", "ledger_password": "hunter2"},
        "q.yaml")
    with pytest.raises(ProfileError) as e:
        load_profile(literal)
    assert "literal secret is refused" in str(e.value) and "hunter2" not in str(e.value)


def test_a_wrong_password_is_a_ledger_error_naming_the_server_not_the_password(
        tmp_path, ledger_url):
    from filebridge.errors import LedgerError

    with pytest.raises(LedgerError) as e:
        open_target(ledger_url, "not-the-password", home=tmp_path)
    assert ledger_url in str(e.value) and "password authentication failed" in str(e.value)
    assert "not-the-password" not in str(e.value)


def test_filebridge_ledger_may_hold_the_url(workdir, ledger_url):
    """$FILEBRIDGE_LEDGER=postgresql://... for profiles that name no ledger; the password
    then from libpq's PGPASSWORD."""
    from test_pipeline import GOOD, drop, profile

    prof = write_profile(workdir, profile(mode="changes"))
    drop(workdir, "ART_1.txt", GOOD)
    env = dict(os.environ) | {"FILEBRIDGE_LEDGER": ledger_url,
                              "PGPASSWORD": os.environ[PASSWORD_ENV]}
    r = subprocess.run([sys.executable, "-m", "filebridge", "run", str(prof)], cwd=workdir,
                       env=env, capture_output=True, text=True, timeout=180, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (workdir / "profiles" / "filebridge.db").exists()
    led = open_pg(ledger_url, workdir)
    assert [(f["name"], f["status"]) for f in led.recent_files(profile="art")] == [
        ("ART_1.txt", "done")]
    led.close()
