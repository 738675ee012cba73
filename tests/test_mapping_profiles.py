"""The mapping language seen from a profile: `check` reports every bad mapping with
its YAML line and path (never a traceback), values shops refuse are caught at load
or become row rejects, and the run date is the day the file was claimed."""

import csv
import datetime as dt
import time
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from conftest import write_profile

from filebridge.cli import main
from filebridge.errors import ProfileError
from filebridge.job import Job
from filebridge.mapping import Mapper
from filebridge.profile import ProfileBase, load_profile, parse_profile
from filebridge.records import Batch, FileReport
from filebridge.runner import run_files

HEAD = """\
name: t
source: {kind: local, path: inbox}
read: {format: csv, delimiter: ";"}
map:
  key: sku
  fields:
    sku: {from: SKU}
"""
WRITE = """\
write:
  - {format: woocommerce_csv, path: "out/{stem}.csv"}
"""
CP1252 = "CODICE;DESCRIZIONE\n001;Nero\n002;Blu è\n".encode("cp1252")


def check(tmp_path: Path, fields: str, files: dict[str, bytes] | None = None,
          write: str = WRITE) -> tuple[int, str]:
    for name, data in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    prof = tmp_path / "p.yaml"
    prof.write_text(HEAD + fields + write, encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(prof)])
    return r.exit_code, r.output  # stdout and stderr as the user sees them


@pytest.mark.parametrize("fields,files,expected", [
    ('    net: {expr: "price *"}\n', None,
     "p.yaml:8: map.fields.net.expr: not a valid expression"),
    ('    net: {expr: "grams(PESO)"}\n', None,
     "p.yaml:8: map.fields.net.expr: unknown function 'grams'; known: coalesce"),
    ('    a: {expr: "b"}\n    b: {format: "{a}"}\n', None,
     "p.yaml:8: map.fields.a: circular reference: a -> b -> a"),
    ("    colour: {from: C, lookup: tables/none.csv}\n", None,
     "p.yaml:8: map.fields.colour.lookup: lookup file"),
    ("    colour: {from: C, lookup: {file: t/colori.csv, delimiter: ';'}}\n",
     {"t/colori.csv": CP1252},
     ("p.yaml:8: map.fields.colour.lookup: lookup file {tmp}/t/colori.csv, line 3: byte 0xe8 "
     "(column 9) is not utf-8 text; it reads as cp1252: set encoding: cp1252")),
    (("    colour:\n      from: C\n      lookup:\n        file: t/colori.csv\n"
     "        encoding: cp1252\n        value: DESCR\n"), {"t/colori.csv": CP1252},
     ("p.yaml:10: map.fields.colour.lookup: lookup file {tmp}/t/colori.csv: no column 'DESCR' "
     "(its columns: CODICE;DESCRIZIONE; delimiter ',')")),
    ("    colour: {from: C, lookup: {01: Rosso}}\n", None,
     "p.yaml:8: map.fields.colour.lookup: inline lookup code 1 was read by YAML as a number"),
    ("    status: {value: publish}\n", None,
     ("p.yaml:8: map.fields.status.value: status 'publish' is not accepted by woocommerce_csv "
     "(write[0]); accepted: active, draft, archived")),
    ('    double: {expr: "PREZZO * 2"}\n', None,
     ("p.yaml:8: map.fields.double.expr: cannot multiply text and a whole number (PREZZO is "
     "text: map it with type: decimal or integer")),
    ("    code: {from: code, apply: [trim]}\n    handle: {format: '{code}-x'}\n", None,
     "p.yaml:9: map.fields.handle.format: 'code' is both an input field and a mapped field"),
    ('    sku2: {from: SKU, regex: "(?<=A)B"}\n', None,
     ("p.yaml:8: map.fields.sku2.regex: invalid regular expression '(?<=A)B' (invalid perl "
     "operator: (?<=); lookahead and lookbehind are not supported (RE2)")),
    ('    a: {expr: "mapped.zzz"}\n', None,
     "p.yaml:8: map.fields.a.expr: mapped.zzz: there is no mapped field 'zzz'"),
    ('    w: {from: W, type: decimal}\n    g: {expr: "unit(w, \'kg\', \'m\')"}\n', None,
     "p.yaml:9: map.fields.g.expr: unit(): cannot convert mass (kg) to length (m)"),
])
def test_check_reports_bad_mappings_with_line_and_path(tmp_path, fields, files, expected):
    code, out = check(tmp_path, fields, files)
    assert code == 4, out
    assert "Traceback" not in out
    assert expected.format(tmp=tmp_path) in out, out


def test_check_reports_every_mapping_problem_at_once(tmp_path):
    code, out = check(tmp_path, '    a: {expr: "PREZZO * 2"}\n    b: {expr: "upper(1)"}\n'
                                "    status: {value: publish}\n")
    assert code == 4
    assert [line.split(": ")[1] for line in out.splitlines()] == [
        "map.fields.a.expr", "map.fields.b.expr", "map.fields.status.value"]


def test_check_accepts_a_catalog_profile_written_with_expressions(tmp_path):
    fields = """\
    article: {from: CODART}
    size:    {from: TAGLIA, apply: [trim, upper]}
    price:   {from: PREZZO, type: decimal, decimal: ","}
    sale:    {from: SALDO, type: decimal, decimal: ","}
    start:   {from: DAL, type: date, date_format: DMY}
    end:     {from: AL, type: date, date_format: DMY}
    on_sale: {expr: "sale is not None and start <= today and (end is None or today <= end)"}
    compare_at_price: {expr: "price if on_sale else None"}
    selling: {expr: "sale if on_sale else price"}
    weight:  {expr: "unit(kg, 'kg', 'g')", type: integer}
    kg:      {from: PESO, type: decimal, scale: 3, decimal: ","}
    kind:    {expr: "'simple' if size == 'TU' else 'variable'"}
    status:  {expr: "'active' if STATO == 'A' else 'draft'"}
    tags:    {expr: "split(TAGS, ',')"}
    colour:  {from: COLORE, lookup: {'01': Nero, '02': Blu}}
"""
    code, out = check(tmp_path, fields, write="""\
write:
  - format: woocommerce_csv
    path: "out/{stem}.csv"
    fields: {price: selling}
""")
    assert code == 0, out


def profile(fields: str, write: str = WRITE) -> ProfileBase:
    return parse_profile(HEAD + fields + write, Path("/p/prof.yaml"))


def refused(fields: str, write: str = WRITE) -> list[str]:
    with pytest.raises(ProfileError) as e:
        profile(fields, write)
    return e.value.problems


@pytest.mark.parametrize("fields,write,expected", [
    ("    stato: {expr: \"'active' if S == '1' else 'publish'\"}\n",
     "write:\n  - {format: shopify_csv, path: o.csv, fields: {status: stato}}\n",
     ("/p/prof.yaml:8: map.fields.stato.expr: status (field stato) 'publish' is not accepted "
     "by shopify_csv (write[0]); accepted: active, draft, archived")),
    ("    status: {from: S, default: published}\n", WRITE,
     "/p/prof.yaml:8: map.fields.status.default: status 'published' is not accepted"),
    ("    status: {from: S, lookup: {'A': active, 'P': publish}}\n", WRITE,
     "/p/prof.yaml:8: map.fields.status.lookup: status 'publish' is not accepted"),
    ("    s: {value: Publish}\n    status: {from: s}\n", WRITE,
     "/p/prof.yaml:8: map.fields.s.value: status 'Publish' is not accepted"),
    ("    status: {value: pubblicato}\n", ("write:\n  - format: woocommerce_api\n"
     "    url: https://shop.example.com\n    consumer_key: ${WOO_KEY}\n"
     "    consumer_secret: ${WOO_SECRET}\n"),
     ("/p/prof.yaml:8: map.fields.status.value: status 'pubblicato' is not accepted by "
     "woocommerce_api (write[0])")),
])
def test_values_a_shop_refuses_are_profile_errors(monkeypatch, fields, write, expected):
    monkeypatch.setenv("WOO_KEY", "ck_x")
    monkeypatch.setenv("WOO_SECRET", "cs_x")
    found = refused(fields, write)
    assert any(p.startswith(expected) for p in found), found


def test_accepted_values_ignore_case_and_sinks_without_a_list_accept_anything():
    profile("    status: {value: ' Active '}\n")
    profile("    status: {value: publish}\n", "write:\n  - {format: csv, path: o.csv}\n")


def test_a_refused_value_from_the_file_rejects_its_row_not_the_file():
    prof = profile("    status: {from: STATO, apply: [lower]}\n")
    rep = FileReport("f")
    batch = Batch(pa.table({"SKU": ["A", "B", "C"], "STATO": ["ACTIVE", "publish", ""]}),
                  pa.array([2, 3, 4], pa.int64()))
    out = Mapper(prof.map).apply(batch, rep)
    assert out.column("sku").to_pylist() == ["A", "C"]
    (rej,) = rep.rejects()
    assert (rej.line, rej.field, rej.value) == (3, "status", "publish")
    assert rej.reason == ("status 'publish' is not accepted by woocommerce_csv (write[0]); "
                          "accepted: active, draft, archived")


def test_a_refused_value_is_a_row_reject_when_the_map_keeps_input_fields():
    text = HEAD.replace("  key: sku\n  fields:\n    sku: {from: SKU}\n", "  fields: {}\n")
    prof = parse_profile(text + WRITE, Path("/p/prof.yaml"))
    rep = FileReport("f")
    out = Mapper(prof.map).apply(Batch(pa.table({"sku": ["A", "B"], "status": ["x", "draft"]}),
                                       pa.array([2, 3], pa.int64())), rep)
    assert len(out) == 1 and next(rep.rejects()).field == "status"


# -- the run date, end to end ------------------------------------------------------

def run_profile(workdir: Path) -> Path:
    return write_profile(workdir, {
        "name": "dated",
        "source": {"kind": "local", "path": "../inbox", "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";"},
        "map": {"key": "sku", "fields": {
            "sku": {"from": "SKU"},
            "price": {"from": "P", "type": "decimal"},
            "sale": {"from": "S", "type": "decimal"},
            "until": {"from": "FINO", "type": "date"},
            "selling": {"expr": "sale if sale is not None and today <= until else price"},
            "run_date": {"expr": "text(today)"},
            "images": {"expr": "split(IMGS, '|')"}}},
        "write": [{"format": "csv", "path": "../out/{stem}.csv", "mode": "changes"}],
    })


def read_out(workdir: Path) -> list[dict[str, str]]:
    with open(workdir / "out" / "LIST.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_the_run_date_is_the_claim_date_also_when_a_file_is_redone(workdir, monkeypatch):
    prof = run_profile(workdir)
    (workdir / "inbox" / "LIST.csv").write_text(
        "SKU;P;S;FINO;IMGS\nA;10.00;8.00;2026-06-30;a.jpg|b.jpg\nB;5.00;;;\n", encoding="utf-8")
    job = Job(load_profile(prof))

    def crash(*a, **k):
        raise SystemExit("killed")

    monkeypatch.setattr(job.ledger, "finish", crash)
    with pytest.raises(SystemExit):
        run_files(job, [])
    today = dt.date.today().isoformat()
    assert read_out(workdir)[0]["run_date"] == today
    monkeypatch.undo()
    # The crashed run had claimed the file on 15 June: redone, it maps as of that day.
    claimed = time.mktime(dt.datetime(2026, 6, 15, 12, 0).timetuple())
    with job.ledger.tx() as db:
        db.execute("UPDATE files SET claimed=?", (claimed,))
    job = Job(load_profile(prof))
    (outcome,) = run_files(job, [])
    assert outcome.status == "done" and outcome.tally.sent == 2
    out = read_out(workdir)
    assert [(r["sku"], r["selling"], r["run_date"], r["images"]) for r in out] == [
        ("A", "8.00", "2026-06-15", "a.jpg|b.jpg"), ("B", "5.00", "2026-06-15", "")]


def test_the_readme_mapping_examples_pass_check(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Mapping: expressions")[1].split("\n## ")[0]
    blocks = [b.split("```")[0] for b in section.split("```yaml\n")[1:]]
    fields = blocks[0].split("  fields:\n")[1] + blocks[1]
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "categorie.csv").write_text("code,name\nG,Giacche\n")
    (tmp_path / "tables" / "codici.csv").write_bytes(
        "TIPO;CODICE;DESCRIZIONE\nMAT;01;Lana vergine è\n".encode("cp1252"))
    code, out = check(tmp_path, fields, write="""\
write:
  - format: woocommerce_csv
    path: "out/{stem}.csv"
    fields: {price: selling}
""")
    assert code == 0, out


def test_check_knows_the_fields_of_a_fixed_layout(tmp_path):
    prof = tmp_path / "f.yaml"
    prof.write_text("""\
name: t
source: {kind: local, path: inbox}
read:
  format: fixed
  fields:
    CODART: {start: 1, length: 5}
    PREZZO: {start: 6, length: 5, type: decimal, implied: true}
map:
  fields:
    sku:   {format: "{CODART}-{COLOR}"}
    price: {expr: "round(PREZZO * 1.1, 2)"}
    bad:   {expr: "upper(PREZZO)"}
write:
  - {format: csv, path: "out/{stem}.csv"}
""", encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(prof)])
    assert r.exit_code == 4
    assert r.output.splitlines() == [
        (f"{prof}:12: map.fields.bad.expr: upper(): expected text, got decimal128(38, 2) "
        "(use text(x) first) (at column 1)"),
        (f"{prof}:10: map.fields.sku.format: 'COLOR' is neither a mapped field nor a field of "
        "the layout or a join (CODART, PREZZO)")]
