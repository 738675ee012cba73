"""Related files and joins, end to end through the CLI on real files: code tables
(per language, composite keys, versions refreshed between files, never loaded,
refused), long-to-wide translations, ordered photo lists, each missing-key policy,
bad encodings, and the profile checks."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import write_profile

from filebridge.errors import ProfileError
from filebridge.job import Job
from filebridge.profile import load_profile
from filebridge.records import FileReport

CODES = ("TIPO;CODICE;LINGUA;DESCRIZIONE\n"
         "COL;01;it;Rosso\nCOL;01;en;Red\nCOL;02;it;Blu\nCOL;02;en;Blue\n"
         "MAT;01;it;Lana\nMAT;01;en;Wool\n")


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filebridge", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=cwd)


def rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def profile(root: Path, **extra: object) -> dict:
    """Main file ART_<date>.csv (ART;COL;MAT), a code table, a CSV out."""
    base: dict[str, Any] = {
        "name": "tj",
        "source": {"kind": "local", "path": str(root / "inbox"), "pattern": ["ART_*.csv"],
                   "ready": {"stable_for": "0s"}, "archive": str(root / "archive"),
                   "errors": str(root / "errors")},
        "read": {"format": "csv", "delimiter": ";"},
        "tables": {"codici": {"path": str(root / "tables" / "codici.csv"),
                              "read": {"format": "csv", "delimiter": ";",
                                       "encoding": "cp1252"}}},
        "join": [{"table": "codici", "on": {"COL": "CODICE"}, "where": {"TIPO": "COL"},
                  "language": "LINGUA", "take": {"DESCRIZIONE": "colour"}}],
        "map": {"languages": ["it", "en"]},
        "write": [{"format": "csv", "path": str(root / "out" / "{stem}.csv")}],
        "feedback": {"ack": {"path": str(root / "out" / "{stem}.ack.csv")},
                     "rejects": {"path": str(root / "out" / "{stem}.rejects.csv")}},
        "ledger": str(root / "ledger.db"),
    }
    base.update(extra)
    return base


def put(path: Path, text: str, encoding: str = "cp1252") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def ack(root: Path, stem: str) -> dict[str, str]:
    (row,) = rows(root / "out" / f"{stem}.ack.csv", ";")
    return row


def test_codes_to_labels_per_language_with_a_type_and_code_key(workdir, cli_env):
    put(workdir / "tables" / "codici.csv", CODES)
    put(workdir / "inbox" / "ART_1.csv", "ART;COL;MAT\nA1;01;01\nA2;02;01\nA3;01 ;01\n")
    p = write_profile(workdir, profile(workdir))
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 0, r.stderr
    out = rows(workdir / "out" / "ART_1.csv")
    assert [(x["ART"], x["colour@it"], x["colour@en"]) for x in out] == [
        ("A1", "Rosso", "Red"), ("A2", "Blu", "Blue"), ("A3", "Rosso", "Red")]  # '01 ' trimmed
    # MAT;01 is not a colour: the type is part of the key.
    assert "Lana" not in (workdir / "out" / "ART_1.csv").read_text()


def test_a_composite_key_on_both_sides(workdir, cli_env):
    put(workdir / "tables" / "prezzi.csv", "ART;TAGLIA;PREZZO\nA1;S;10,50\nA1;M;11,00\n"
        "A2;S;20,00\n")
    put(workdir / "inbox" / "ART_1.csv", "ART;TAGLIA\nA1;M\nA1;S\nA2;S\n")
    prof = profile(workdir, tables={"prezzi": {
        "path": str(workdir / "tables" / "prezzi.csv"),
        "read": {"format": "csv", "delimiter": ";", "decimal": ",",
                 "fields": {"PREZZO": {"type": "decimal", "scale": 2}}}}},
        join=[{"table": "prezzi", "on": ["ART", "TAGLIA"], "take": ["PREZZO"]}], map={})
    r = cli("run", str(write_profile(workdir, prof)), env=cli_env)
    assert r.returncode == 0, r.stderr
    assert [(x["ART"], x["TAGLIA"], x["PREZZO"]) for x in rows(workdir / "out" / "ART_1.csv")
            ] == [("A1", "M", "11.00"), ("A1", "S", "10.50"), ("A2", "S", "20.00")]


def test_long_to_wide_translations_and_ordered_photo_lists(workdir, cli_env):
    put(workdir / "inbox" / "ART_1.csv", "ART;COL\nA1;01\nA1;02\nA2;01\n")
    put(workdir / "tables" / "trad.csv",
        "ARTICOLO;LINGUA;CAMPO;TESTO\nA1;it;NOME;Giacca\nA1;en;NOME;Jacket\n"
        "A1;de;NOME;Jacke\nA1;it;DESCR;Lana vergine\nA2;it;NOME;Gonna\nA2;fr;NOME;Jupe\n"
        "A1;es;NOME;Chaqueta\n")
    put(workdir / "tables" / "foto.csv", "ART;COL;POS;FILE\nA1;01;10;c.jpg\nA1;01;2;b.jpg\n"
        "A2;01;1;z.jpg\nA1;01;1;a.jpg\nA1;02;1;d.jpg\n")
    csvr = {"format": "csv", "delimiter": ";"}
    prof = profile(workdir, tables={
        "trad": {"path": str(workdir / "tables" / "trad.csv"), "read": csvr},
        "foto": {"path": str(workdir / "tables" / "foto.csv"), "read": csvr}},
        join=[{"table": "trad", "kind": "wide", "on": {"ART": "ARTICOLO"},
               "language": "LINGUA", "field": "CAMPO", "value": "TESTO",
               "fields": {"NOME": "name", "DESCR": "descr"}, "missing": "keep"},
              {"table": "foto", "kind": "list", "on": ["ART", "COL"], "order": ["POS"],
               "template": "https://cdn/{ART}/{FILE}", "as": "photos"}],
        map={"languages": ["it", "en", "de", "fr"], "fields": {
            "art": {"from": "ART"}, "title": {"from": "name@it"},
            "title@en": {"from": "name@en"}, "title@fr": {"from": "name@fr"},
            "description": {"from": "descr@it"}, "images": {"from": "photos"}}})
    r = cli("run", str(write_profile(workdir, prof)), env=cli_env)
    assert r.returncode == 0, r.stderr
    out = rows(workdir / "out" / "ART_1.csv")
    assert [(x["title"], x["title@en"], x["title@fr"], x["description"]) for x in out] == [
        ("Giacca", "Jacket", "", "Lana vergine"), ("Giacca", "Jacket", "", "Lana vergine"),
        ("Gonna", "", "Jupe", "")]
    # Ordered by POS as numbers (1, 2, 10), not as text, nor as the file has them.
    assert [x["images"] for x in out] == [
        "https://cdn/A1/a.jpg|https://cdn/A1/b.jpg|https://cdn/A1/c.jpg",
        "https://cdn/A1/d.jpg", "https://cdn/A2/z.jpg"]


def _batches(root: Path, prof: dict, name: str = "ART_1.csv") -> tuple[list[dict], FileReport]:
    job = Job(load_profile(write_profile(root, prof)))
    job.related.refresh()
    report = FileReport(name)
    out = [r for b in job.batches(root / "inbox" / name, report) for r in b.rows()]
    report.flush()
    return out, report


@pytest.mark.parametrize("missing", ["reject", "keep", "empty"])
def test_each_missing_key_policy(workdir, missing):
    put(workdir / "tables" / "codici.csv", CODES)
    put(workdir / "tables" / "foto.csv", "ART;FILE\nA1;a.jpg\n")
    put(workdir / "inbox" / "ART_1.csv", "ART;COL\nA1;01\nA2;77\nA3;\n")
    prof = profile(workdir)
    prof["tables"]["foto"] = {"path": str(workdir / "tables" / "foto.csv"),
                              "read": {"format": "csv", "delimiter": ";"}}
    prof["join"][0]["missing"] = missing
    prof["join"].append({"table": "foto", "kind": "list", "on": ["ART"], "value": "FILE",
                         "as": "photos", "missing": missing})
    out, report = _batches(workdir, prof)
    arts = [r["ART"] for r in out]
    if missing == "reject":
        # A2 has neither a colour nor a photo: one reject (its first join), not two.
        assert arts == ["A1"]  # A3's blank colour is never looked up, but it has no photo
        assert report.tally.rejected == 2
        first = report.first[0]
        assert (first.line, first.field) == (3, "COL")
        assert "join[0] codici: no row for COL='77'" in first.reason
        assert "CODICE='77', TIPO='COL'" in first.reason and "codici.csv" in first.reason
        assert first.values == {"ART": "A2", "COL": "77"}  # the row as read
        assert "join[1] foto: no row for ART='A3'" in report.first[1].reason
        return
    assert arts == ["A1", "A2", "A3"] and report.tally.rejected == 0
    a2, a3 = out[1], out[2]
    assert out[0]["colour@it"] == "Rosso" and out[0]["photos"] == ["a.jpg"]
    if missing == "keep":
        assert a2["colour@it"] is None and a2["photos"] is None
    else:
        assert a2["colour@it"] == "" and a2["photos"] == []
    assert a3["colour@it"] is None  # a blank key is not missing: always null


def test_rejected_rows_are_counted_in_the_ack_and_add_up(workdir, cli_env):
    put(workdir / "tables" / "codici.csv", CODES)
    put(workdir / "inbox" / "ART_1.csv", "ART;COL\nA1;01\nA2;77\nA3;02\nA4;88\n")
    r = cli("run", str(write_profile(workdir, profile(workdir))), env=cli_env)
    assert r.returncode == 1, r.stderr  # some rows rejected
    a = ack(workdir, "ART_1")
    assert (a["read"], a["sent"], a["rejected"]) == ("4", "2", "2")
    rej = rows(workdir / "out" / "ART_1.rejects.csv", ";")
    assert [(x["line"], x["field"], x["value"]) for x in rej] == [("3", "COL", "77"),
                                                                 ("5", "COL", "88")]
    assert all("join[0] codici" in x["reason"] for x in rej)


def test_a_code_table_refreshed_between_two_main_files(workdir, cli_env):
    table = put(workdir / "tables" / "codici.csv", CODES)
    p = write_profile(workdir, profile(workdir))
    put(workdir / "inbox" / "ART_1.csv", "ART;COL\nA1;01\n")
    assert cli("run", str(p), env=cli_env).returncode == 0
    put(table, CODES.replace("Rosso", "Rosso fuoco"))
    put(workdir / "inbox" / "ART_2.csv", "ART;COL\nA2;01\n")
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 0, r.stderr
    assert "code table codici: codici.csv loaded (6 rows), replacing codici.csv" in r.stderr
    assert rows(workdir / "out" / "ART_1.csv")[0]["colour@it"] == "Rosso"
    assert rows(workdir / "out" / "ART_2.csv")[0]["colour@it"] == "Rosso fuoco"
    st = cli("status", "--profile", str(p), env=cli_env).stdout
    assert "code tables:" in st and "codici [tj] codici.csv rows=6" in st
    assert st.count("codici [tj]") == 1  # only the current version is shown
    # Data copies beside the ledger: one, the current version.
    assert len(list((workdir / ".filebridge-tables" / "tj").glob("*.sqlite"))) == 1


def test_a_file_joins_one_version_while_a_new_one_arrives(workdir):
    """The version is pinned when the file starts: a refresh meanwhile does not touch
    it (it is taken between files, by the next one)."""
    table = put(workdir / "tables" / "codici.csv", CODES)
    put(workdir / "inbox" / "ART_1.csv", "ART;COL\n" + "A1;01\n" * 10)
    job = Job(load_profile(write_profile(workdir, profile(workdir))))
    job.related.refresh()
    report = FileReport("ART_1.csv")
    with job.related.open({}) as joiner:
        put(table, CODES.replace("Rosso", "Cremisi"))
        job.related.refresh()
        batch = next(iter(job.reader.read(workdir / "inbox" / "ART_1.csv", report)))
        assert joiner.apply(batch, report).column("colour@it").to_pylist()[0] == "Rosso"
    with job.related.open({}) as joiner:
        assert joiner.apply(batch, report).column("colour@it").to_pylist()[0] == "Cremisi"


def test_a_code_table_never_loaded_makes_the_file_wait(workdir, cli_env):
    p = write_profile(workdir, profile(workdir))
    main = put(workdir / "inbox" / "ART_1.csv", "ART;COL\nA1;01\n")
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 8, r.stdout + r.stderr  # waiting
    assert "ART_1.csv: waiting - code table codici: no file yet" in r.stdout
    assert str(workdir / "tables" / "codici.csv") in r.stdout
    assert main.exists() and not (workdir / "out").exists()
    st = cli("status", "--profile", str(p), env=cli_env).stdout
    assert "waiting:" in st and "ART_1.csv [tj]" in st and "code table codici" in st
    put(workdir / "tables" / "codici.csv", CODES)
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 0, r.stderr
    assert rows(workdir / "out" / "ART_1.csv")[0]["colour@it"] == "Rosso"
    assert "waiting:" not in cli("status", "--profile", str(p), env=cli_env).stdout


def test_a_code_table_in_a_bad_encoding_names_file_line_and_encoding(workdir, cli_env):
    put(workdir / "tables" / "codici.csv", CODES + "COL;03;it;Verde oliva\nCOL;04;it;Caffè\n")
    prof = profile(workdir)
    prof["tables"]["codici"]["read"]["encoding"] = "utf-8"  # but the file is cp1252
    p = write_profile(workdir, prof)
    put(workdir / "inbox" / "ART_1.csv", "ART;COL\nA1;01\n")
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 8, r.stdout + r.stderr
    assert ("codici.csv: line 9: DESCRIZIONE: bytes b'\\xe8' are not valid utf-8 (the file "
            "is read as encoding: utf-8; is it in another?)") in r.stdout
    assert "Traceback" not in r.stderr
    st = cli("status", "--profile", str(p), env=cli_env).stdout
    assert "REFUSED" in st and "line 9" in st


def test_a_bad_new_version_is_refused_and_the_current_one_stays(workdir, cli_env):
    table = put(workdir / "tables" / "codici.csv", CODES)
    p = write_profile(workdir, profile(workdir))
    put(workdir / "inbox" / "ART_1.csv", "ART;COL\nA1;01\n")
    assert cli("run", str(p), env=cli_env).returncode == 0
    put(table, CODES + "COL;01;it;Rosso bis\n")  # two Italian labels for one code
    put(workdir / "inbox" / "ART_2.csv", "ART;COL\nA2;01\n")
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 0, r.stderr
    assert "new version refused, keeping codici.csv" in r.stderr
    assert ("lines 2 and 8: both hold CODICE='01', LINGUA='it', TIPO='COL'; join[0] codici "
            "(kind one) needs one row per key") in r.stderr
    assert rows(workdir / "out" / "ART_2.csv")[0]["colour@it"] == "Rosso"
    st = cli("status", "--profile", str(p), env=cli_env).stdout
    assert "REFUSED" in st and "lines 2 and 8" in st


def test_a_missing_table_file_and_a_missing_column(workdir, cli_env):
    prof = profile(workdir)
    prof["tables"]["codici"]["path"] = str(workdir / "tables" / "nope.csv")
    p = write_profile(workdir, prof)
    put(workdir / "inbox" / "ART_1.csv", "ART;COL\nA1;01\n")
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 8 and "code table codici: no file yet" in r.stdout
    assert "nope.csv" in r.stdout
    put(workdir / "tables" / "nope.csv", "TIPO;CODICE;LINGUA;TESTO\nCOL;01;it;Rosso\n")
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 8
    assert ("nope.csv: column(s) DESCRIZIONE used by the joins are not in the table (it "
            "has: TIPO, CODICE, LINGUA, TESTO)") in r.stdout


PROFILE_ERRORS = [
    # (change, expected text, line of the YAML it points at)
    (lambda p: p["join"][0].update(table="colori"),
     "join.0.table: unknown table 'colori' (tables: codici)", ["join", "table"]),
    (lambda p: p["tables"]["codici"]["read"].update(delimiter=";;"),
     "tables.codici.read.delimiter: String should have at most 1 character",
     ["tables", "delimiter"]),
    (lambda p: p["tables"]["codici"].update(member="X_{date}.csv"),
     "give exactly one of path", None),
    (lambda p: p["join"][0].update(kind="wide"), "kind wide needs field", None),
    (lambda p: p["join"][0].pop("language"), "new field 'colour' is already a field", None),
]


def test_check_reports_related_file_problems_with_their_line(workdir, cli_env):
    base = profile(workdir)
    p = write_profile(workdir, base)
    assert cli("check", str(p), env=cli_env).returncode == 0
    # A fixed-width table's layout is known: its columns are checked.
    prof = profile(workdir)
    prof["read"] = {"format": "fixed", "fields": {"ART": {"start": 1, "length": 4},
                                                  "COL": {"start": 5, "length": 2}}}
    prof["tables"]["codici"]["read"] = {"format": "fixed", "fields": {
        "TIPO": {"start": 1, "length": 3}, "COD": {"start": 4, "length": 2},
        "LINGUA": {"start": 6, "length": 2}, "DESCRIZIONE": {"start": 8, "length": 20}}}
    prof["join"][0]["on"] = {"COLORE": "CODICE"}
    r = cli("check", str(write_profile(workdir, prof)), env=cli_env)
    assert r.returncode == 4 and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert any("join.0: column 'CODICE' is not in table codici's layout (it has: COD, "
               "DESCRIZIONE, LINGUA, TIPO)" in x for x in lines), r.stderr
    assert any("join.0.on: key field 'COLORE' is not in the main file's layout" in x
               for x in lines), r.stderr
    text = (workdir / "profiles" / "p.yaml").read_text().splitlines()
    on_line = next(i for i, t in enumerate(text, 1) if t.strip().startswith("on:"))
    assert any(f"p.yaml:{on_line}: join.0.on:" in x for x in lines), r.stderr


@pytest.mark.parametrize("change,expected,key", PROFILE_ERRORS)
def test_profile_errors(workdir, change, expected, key):
    prof = profile(workdir)
    if key is None and "already a field" in expected:
        prof["read"] = {"format": "fixed", "fields": {"ART": {"start": 1, "length": 4},
                                                      "colour": {"start": 5, "length": 2}}}
        prof["join"][0]["on"] = {"ART": "CODICE"}
    change(prof)
    p = write_profile(workdir, prof)
    with pytest.raises(ProfileError) as e:
        load_profile(p)
    text = "\n".join(e.value.problems)
    assert expected in text, text
    if key is not None:  # the line of the last anchor, each searched after the previous
        yaml = p.read_text().splitlines()
        line = 0
        for anchor in key:
            line = next(i for i, t in enumerate(yaml, 1) if i > line and (
                t.strip().lstrip("- ").startswith(anchor + ":")))
        assert f"p.yaml:{line}:" in text, text


SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "collezione-as400"


def test_the_collection_sample_is_what_its_script_makes(tmp_path):
    sys.path.insert(0, str(SAMPLE))
    try:
        import make_collezione
    finally:
        sys.path.remove(str(SAMPLE))
    for name, lines in make_collezione.build().items():
        assert (SAMPLE / name).read_bytes() == ("\r\n".join(lines) + "\r\n").encode("cp1252")
    skus = (SAMPLE / "ANAART_20261127.txt").read_bytes().count(b"\r\n")
    assert 380 <= skus <= 440


def test_the_collection_sample_profile_joins_every_table(tmp_path, cli_env):
    """profiles/collezione-as400.yaml on the sample: four languages, labels from the
    code table, every photo in order, the SKU with an unknown colour rejected."""
    import shutil

    repo = SAMPLE.parents[1]
    (tmp_path / "profiles").mkdir()
    shutil.copy(repo / "profiles" / "collezione-as400.yaml", tmp_path / "profiles")
    shutil.copytree(SAMPLE, tmp_path / "samples" / "collezione-as400")
    inbox = tmp_path / "inbox" / "collezione"
    inbox.mkdir(parents=True)
    for f in SAMPLE.glob("ANA*_20261127.txt"):
        shutil.copy(f, inbox)
    r = cli("run", str(tmp_path / "profiles" / "collezione-as400.yaml"), env=cli_env)
    assert r.returncode == 1, r.stdout + r.stderr  # the one deliberate bad row
    (out,) = (tmp_path / "outbox" / "collezione").glob("*.csv")
    got = rows(out, ";")
    master = (SAMPLE / "ANAART_20261127.txt").read_text("cp1252").splitlines()
    assert len(got) == len(master) - 1
    first = got[0]
    assert (first["sku"], first["title"], first["title@de"], first["colour@fr"],
            first["categories@en"], first["material"], first["fit@en"]) == (
        "GI26001-034-S", "Giacca Alba in cotone", "Jacke Alba aus Baumwolle", "Vert forêt",
        "Women > Jackets", "Cotone", "Oversized")
    photos = [line.split(";") for line in
              (SAMPLE / "ANAFOT_20261127.txt").read_text("cp1252").splitlines()[1:]]
    want = sorted((int(p), f) for a, c, p, f in photos if (a, c) == ("GI26001", "034"))
    assert first["images"].split("|") == [f"https://cdn.example.com/collezione/{f}"
                                          for _, f in want]
    assert len(want) >= 2
    listed = rows(tmp_path / "feedback" / "collezione" / "ANAART_20261127.rejects.csv", ";")
    (rej,) = [x for x in listed if x["level"] == "reject"]  # warnings are listed too
    assert (rej["line"], rej["field"], rej["value"]) == ("19", "COLORE", "099")
    assert "join[0] codici: no row for COLORE='099'" in rej["reason"]
    assert all(x["title@fr"] and x["description@en"] and x["colour@de"] for x in got)
    assert len(list((tmp_path / "archive" / "collezione").iterdir())) == 3
    # The shops' files: WooCommerce's importer and Shopify's rules take all of it.
    from checkers.shopify_csv import ShopifyStore, import_products
    from checkers.woocommerce_importer import WooShop, import_csv

    (woo,) = (tmp_path / "outbox" / "woocommerce").glob("*.new.csv")
    shop = WooShop()
    res = import_csv(shop, woo)
    assert not res.failed and not res.skipped and not res.not_imported
    parents = [p for p in shop.all() if p.type == "variable"]
    assert sum(len(shop.visible_variations(p.sku)) for p in parents) + sum(
        1 for p in shop.all() if p.type == "simple") == len(got)
    jacket = shop.product("P-GI26001")
    assert jacket.categories == ["Donna > Giacche"] and jacket.images[0].endswith(
        f"/{want[0][1]}")
    (shopify,) = (tmp_path / "outbox" / "shopify").glob("*.csv")
    store = ShopifyStore(metafields={f"custom.{c}": "single_line_text_field"
                                     for c in ("material", "fit", "composition")})
    result = import_products(store, shopify, overwrite=True)
    assert not result.errors and len(result.created) == 45
    assert store.product("gi26001").metafields["custom.composition"] == "100% cotone"


def test_preview_loads_the_code_tables_and_reads_members_beside_the_file(workdir, cli_env):
    put(workdir / "tables" / "codici.csv", CODES)
    put(workdir / "inbox" / "ART_1.csv", "ART;COL\nA1;01\nA2;77\n")
    p = write_profile(workdir, profile(workdir))
    r = cli("preview", str(p), str(workdir / "inbox" / "ART_1.csv"), env=cli_env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert '"colour@it": "Rosso"' in r.stdout
    assert "reject line 3: COL: join[0] codici: no row for COL='77'" in r.stdout


def test_a_code_table_by_pattern_in_the_profiles_own_inbox(workdir, cli_env):
    """pattern: without folder: looked for in the source's folder, the newest file;
    never taken as a main file nor moved."""
    prof = profile(workdir)
    prof["tables"]["codici"] = {"pattern": "TABCOD_*.csv", "read": {
        "format": "csv", "delimiter": ";", "encoding": "cp1252"}}
    p = write_profile(workdir, prof)
    inbox = workdir / "inbox"
    put(inbox / "TABCOD_1.csv", CODES.replace("Rosso", "Vecchio"))
    os.utime(inbox / "TABCOD_1.csv", (1, 1))
    put(inbox / "TABCOD_2.csv", CODES)
    put(inbox / "ART_1.csv", "ART;COL\nA1;01\n")
    r = cli("run", str(p), env=cli_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert rows(workdir / "out" / "ART_1.csv")[0]["colour@it"] == "Rosso"
    assert sorted(x.name for x in inbox.iterdir()) == ["TABCOD_1.csv", "TABCOD_2.csv"]
