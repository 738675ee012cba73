"""The PrestaShop CSV sink, its files imported by a re-implementation of PrestaShop's
own importer (tests/checkers/prestashop_importer.py) into a simulated shop: what the
shop ends up with is what is asserted, for the department spreadsheet, the AS400
collection, and rows made to break each rule the importer enforces."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from checkers.prestashop_importer import PrestaShop, fgetcsv, split
from helpers import run_sink
from test_samples import REPO, run, work  # noqa: F401
from test_sink_woocommerce import rows

from filebridge.ledger.sqlite import SqliteLedger
from filebridge.sinks.prestashop_csv import PrestaShopCsvOptions, PrestaShopCsvSink

SPEC = {"key": "article", "parent": {"fields": {"title": "prefix"}},
        "options": [{"field": "size", "name": "Taglia", "order": "sizes"},
                    {"field": "colour", "name": "Colore"}]}
ATTRS = {"material": {"name": "Materiale"}, "composition": {"name": "Composizione",
                                                          "filter": False}}
EANS = {"S": "8012345000005", "M": "8012345000012", "L": "8012345000029"}


def jacket(size: str, colour: str, **over: object) -> dict:
    base = {"article": "GIA", "sku": f"GIA-{size}-{colour[:3].upper()}",
            "title": f"Giacca trapuntata - {size}", "size": size, "colour": colour,
            "price": "189.00", "stock": 3, "barcode": EANS[size] if colour == "Nero" else None,
            "categories": ["Donna > Capispalla > Giacche"], "material": "Nylon",
            "composition": "100% nylon", "status": "active",
            "images": [f"https://cdn.example.com/GIA_{colour}.jpg"]}
    return base | over


def scarf(**over: object) -> dict:
    return {"article": "SCI", "sku": "SCI-TU", "title": "Sciarpa", "size": "TU",
            "colour": "Grigio", "price": "59.00", "stock": 4, "categories":
            ["Donna > Accessori"], "material": "Lana", "status": "active"} | over


def day(tmp_path: Path, items: list[dict], ledger: SqliteLedger | None = None,
        file_id: int = 1, **options: object):
    out = tmp_path / "out"
    for f in out.glob("*.csv"):
        f.unlink()
    o = PrestaShopCsvOptions.model_validate({"format": "prestashop_csv",
                                             "path": "out/{stem}.csv", **options})
    report = run_sink(PrestaShopCsvSink(o), tmp_path, [rows(items)], SPEC, attributes=ATTRS,
                      ledger=ledger or SqliteLedger(tmp_path / "l.db"), file_id=file_id)
    return report, {f.name: f for f in out.glob("*.csv")}


def load(shop: PrestaShop, files: dict[str, Path], stem: str = "x", mv: str = ",",
         sep: str = ";", langs: tuple[str, ...] | None = None):
    """As an operator would, "Use product reference as key" on: the default
    language's products, the combinations, then the other languages."""
    langs = langs or shop.languages
    results = {}
    name = f"{stem}.csv" if f"{stem}.csv" in files else f"{stem}.{langs[0]}.csv"
    if name in files:
        results["products"] = shop.import_products(files[name], langs[0], separator=sep,
                                                   multiple_value_separator=mv)
    if f"{stem}.combinations.csv" in files:
        results["combinations"] = shop.import_combinations(
            files[f"{stem}.combinations.csv"], separator=sep, multiple_value_separator=mv)
    for lang in langs[1:]:
        if f"{stem}.{lang}.csv" in files:
            results[lang] = shop.import_products(files[f"{stem}.{lang}.csv"], lang,
                                                 separator=sep, multiple_value_separator=mv)
    for r in results.values():
        assert not (r.failed or r.errors or r.dropped or r.mismatches), (
            r.failed, r.errors, r.dropped, r.mismatches)
    return results


def reasons(report) -> dict[str, str]:
    return {r.field: r.reason for r in report.first}


# the samples -------------------------------------------------------------------------
DONNA = REPO / "samples" / "catalogo" / "REPARTO_DONNA_FW26.xlsx"


def test_the_department_spreadsheet_reaches_prestashop(work):  # noqa: F811
    outcome, out = run(work, "catalogo-donna.yaml", DONNA)
    assert outcome.tally.as_dict() == {"read": 57, "sent": 55, "unchanged": 0,
                                       "rejected": 2, "skipped": 0, "queued": 0}
    files = {k.split("/")[1]: p for k, p in out.items() if k.startswith("prestashop/")}
    assert set(files) == {f"REPARTO_DONNA_FW26.{x}.csv" for x in ("it", "en", "combinations")}
    shop = PrestaShop(("it", "en"), {1: Decimal(22)})
    res = load(shop, files, "REPARTO_DONNA_FW26", mv="|")
    assert len(shop.products) == 8 and len(res["combinations"].saved) == 54
    coat = shop.product("D26FW1001")
    assert coat.name == {"it": "Cappotto doppiopetto in lana", "en": "Double-breasted wool coat"}
    assert coat.link_rewrite == {"it": "cappotto-doppiopetto-in-lana",
                                 "en": "double-breasted-wool-coat"}
    assert [shop.path(c) for c in coat.categories] == ["Donna > Capispalla > Cappotti"]
    assert coat.price == Decimal("376.229508")  # 459.00 tax included, 22% taken out
    assert coat.discount == {"amount": "90", "tax": "included", "from": "2026-12-01",
                             "to": "2027-01-06 23:59:59"}  # 459 -> 369 to the last day
    assert ("Composizione", "90% lana, 10% cachemire") in coat.features  # comma kept whole
    assert [v for f, v in coat.features if f == "Famiglia colore"] == ["Marrone", "Nero"]
    combos = {c.reference: c for c in coat.combinations}
    assert len(combos) == 7 and "D26FW1001-NER-XS" not in combos  # its EAN was wrong
    m = combos["D26FW1001-CAM-M"]
    assert m.attributes == [("Taglia", "M"), ("Colore", "Cammello")]
    assert m.ean13 == "8012345600014" and m.price == 0
    assert combos["D26FW1001-CAM-XS"].default
    urls = {i.id: i.url for i in coat.images}
    assert [urls[i] for i in m.images] == [
        f"https://cdn.moda-italia.example/img/D26FW1001_CAM_{n}.jpg" for n in (1, 2, 3)]
    assert coat.images[0].cover and coat.images[0].legend["en"] == (
        "Cappotto doppiopetto in lana - Cammello")
    assert coat.quantity == sum(c.quantity for c in coat.combinations) == 41
    assert shop.group_values("Taglia") == ["XS", "S", "M", "L", "XL", "36", "37", "37.5",
                                           "38", "39", "40", "42", "44"]
    assert shop.group_values("Colore")[:2] == ["Cammello", "Nero"]
    sweater = shop.product("D26FW1010")
    assert sorted(shop.path(c) for c in sweater.categories) == [
        "Collezione > Essenziali", "Donna > Maglieria"]
    scarf_ = shop.product("D26FW1050-GRI-TU")  # one SKU: a product without combinations
    assert not scarf_.combinations and scarf_.ean13 and scarf_.quantity == 12
    assert ("Taglia", "TU") in scarf_.features  # its option values stay as features
    # Every combination names a product of the products file.
    products_file = fgetcsv(files["REPARTO_DONNA_FW26.it.csv"].read_text("utf-8"), ";")
    combos_file = fgetcsv(files["REPARTO_DONNA_FW26.combinations.csv"].read_text("utf-8"), ";")
    assert {r[0] for r in combos_file[1:]} <= {r[0] for r in products_file[1:]}


def test_the_as400_collection_reaches_prestashop_in_four_languages(tmp_path, cli_env):
    from test_tables import SAMPLE, cli

    (tmp_path / "profiles").mkdir()
    shutil.copy(REPO / "profiles" / "collezione-as400.yaml", tmp_path / "profiles")
    shutil.copytree(SAMPLE, tmp_path / "samples" / "collezione-as400")
    inbox = tmp_path / "inbox" / "collezione"
    inbox.mkdir(parents=True)
    for f in SAMPLE.glob("ANA*_20261127.txt"):
        shutil.copy(f, inbox)
    r = cli("run", str(tmp_path / "profiles" / "collezione-as400.yaml"), env=cli_env)
    assert r.returncode == 1, r.stdout + r.stderr  # the sample's one deliberate bad row
    files = {p.name.split("-", 1)[1].split(".", 1)[1]: p
             for p in (tmp_path / "outbox" / "prestashop").glob("*.csv")}
    assert set(files) == {"it.csv", "en.csv", "de.csv", "fr.csv", "combinations.csv"}
    stem = next(iter((tmp_path / "outbox" / "prestashop").glob("*.it.csv"))).name[:-7]
    files = {f"{stem}.{k}": p for k, p in files.items()}
    shop = PrestaShop(("it", "en", "de", "fr"))
    res = load(shop, files, stem, mv="|")
    master = (SAMPLE / "ANAART_20261127.txt").read_text("cp1252").splitlines()
    skus = sum(len(p.combinations) or 1 for p in shop.products)
    assert skus == len(master) - 1 == len(res["combinations"].saved) + sum(
        1 for p in shop.products if not p.combinations)
    jacket_ = shop.product("GI26001")
    assert jacket_.name == {"it": "Giacca Alba in cotone", "en": "Alba cotton jacket",
                            "de": "Jacke Alba aus Baumwolle", "fr": "Veste Alba en coton"}
    assert [shop.path(c) for c in jacket_.categories] == ["Donna > Giacche"]
    assert ("Composizione", "100% cotone") in jacket_.features
    assert all(c.images for c in jacket_.combinations)
    assert shop.group_values("Taglia")[:4] == ["S", "M", "L", "XL"]
    # Every SKU's EAN and stock as the master has them (fixed width: article 1-8,
    # colour 9-11, size 12-15, EAN 16-28, stock 48-52).
    want = {f"{ln[0:8].strip()}-{ln[8:11].strip()}-{ln[11:15].strip()}":
            (ln[15:28].strip(), int(ln[47:52])) for ln in master}
    got = {c.reference: (c.ean13, c.quantity) for p in shop.products for c in p.combinations}
    got |= {p.reference: (p.ean13, p.quantity) for p in shop.products if not p.combinations}
    assert got == {k: v for k, v in want.items() if k in got} and len(got) == len(want) - 1


# rules the importer enforces --------------------------------------------------------
@pytest.mark.parametrize("bad", ["Giacca <b>", "Giacca; nuova", "Giacca = nuova",
                                 "Giacca #1", "Giacca {x}"])
def test_a_name_isCatalogName_refuses_is_a_reject_not_a_lost_product(tmp_path, bad):
    items = [jacket(s, "Nero") for s in ("S", "M")] + [scarf()]
    items[0]["title"] = items[1]["title"] = bad
    report, files = day(tmp_path, items)
    assert report.tally.rejected == 2 and report.tally.sent == 1
    assert "isCatalogName" in reasons(report)["title"]
    shop = PrestaShop()
    load(shop, files)
    assert [p.reference for p in shop.products] == ["SCI-TU"]
    # The checker holds the importer's rule: the same name written by hand fails the row.
    hand = tmp_path / "hand.csv"
    hand.write_text("Reference #;Name\nGIA;" + bad.replace(";", "") + "\n", encoding="utf-8")
    if bad != "Giacca; nuova":
        assert PrestaShop().import_products(hand).failed
    hand.write_text('Reference #;Name\nGIA;"Giacca; nuova"\n', encoding="utf-8")
    assert PrestaShop().import_products(hand).failed


@pytest.mark.parametrize("ean", ["80123450000051", "80123A5000005"])
def test_an_ean_isEan13_refuses_is_a_reject(tmp_path, ean):
    items = [jacket("S", "Nero", barcode=ean), jacket("M", "Nero"), scarf()]
    report, files = day(tmp_path, items)
    assert "isEan13" in reasons(report)["barcode"] and report.tally.rejected == 2
    shop = PrestaShop()
    load(shop, files)
    assert [p.reference for p in shop.products] == ["SCI-TU"]
    # What the importer does with one: a product row fails, a combination loses it.
    hand = tmp_path / "p.csv"
    hand.write_text(f"Reference #;Name;EAN-13\nX;Sciarpa;{ean}\n", encoding="utf-8")
    assert PrestaShop().import_products(hand).failed
    shop = PrestaShop()
    hand.write_text("Reference #;Name\nGIA;Giacca\n", encoding="utf-8")
    shop.import_products(hand)
    combo = tmp_path / "c.csv"
    combo.write_text("Product Reference;Attribute (Name:Type:Position)*;Value (Value:Position)*;"
                     f"Reference;EAN-13\nGIA;Taglia:select:1;S:1;GIA-S;{ean}\n", encoding="utf-8")
    res = shop.import_combinations(combo)
    assert res.warnings and shop.product("GIA").combination("GIA-S").ean13 == ""


def test_a_combination_whose_product_is_missing_is_caught(tmp_path):
    _, files = day(tmp_path, [jacket(s, "Nero") for s in ("S", "M")])
    shop = PrestaShop()
    res = shop.import_combinations(files["x.combinations.csv"])  # products not imported
    assert len(res.dropped) == 2 and not shop.products  # silently skipped by PrestaShop
    shop = PrestaShop()
    shop.import_products(files["x.csv"], match_ref=True)
    res = shop.import_combinations(files["x.combinations.csv"], match_ref=False)
    assert len(res.dropped) == 2  # "Use product reference as key" off: skipped too
    assert len(load(PrestaShop(), files)["combinations"].saved) == 2


def test_a_value_holding_the_separator(tmp_path):
    # A category level with a comma goes in quotes inside the cell and stays whole.
    items = [jacket(s, "Nero", categories=["Donna > Capi, spalla"]) for s in ("S", "M")]
    report, files = day(tmp_path, items)
    assert report.tally.sent == 2
    shop = PrestaShop()
    load(shop, files)
    assert [shop.path(c) for c in shop.product("GIA").categories] == ["Donna > Capi, spalla"]
    # A feature value is split blindly: refused, with the way out named.
    items = [jacket(s, "Nero", composition="90% lana, 10% cachemire") for s in ("S", "M")]
    report, files = day(tmp_path, items)
    assert report.tally.rejected == 2 and "multiple_value_separator" in reasons(
        report)["attributes"]
    _, files = day(tmp_path, items, multiple_value_separator="|")
    shop = PrestaShop()
    load(shop, files, mv="|")
    assert ("Composizione", "90% lana, 10% cachemire") in shop.product("GIA").features
    # What the importer would have made of it: the checker cuts it as PrestaShop does.
    hand = tmp_path / "f.csv"
    hand.write_text("Reference #;Name;Feature (Name:Value:Position:Customized)\n"
                    "X;Maglia;Composizione:90% lana, 10% cachemire:1\n", encoding="utf-8")
    shop = PrestaShop()
    shop.import_products(hand)
    # The value is cut at the comma and its tail becomes a feature of its own.
    assert shop.product("X").features == [("Composizione", "90% lana"), ("10% cachemire", "1")]
    # An option value with the separator cannot be a combination's value either.
    report, _ = day(tmp_path, [jacket("S", "Nero, opaco"), jacket("M", "Nero, opaco")])
    assert report.tally.rejected == 2 and "splits on" in reasons(report)["colour"]
    assert split('"a,b",c', ",") == ["a,b", "c"]


def test_attribute_positions_the_importer_would_not_keep_are_caught(tmp_path):
    _, files = day(tmp_path, [jacket(s, c) for c in ("Nero", "Blu") for s in ("L", "S", "M")])
    shop = PrestaShop()
    load(shop, files)  # no mismatch in what the sink writes
    assert shop.group_values("Taglia") == ["S", "M", "L"]
    assert shop.group_values("Colore") == ["Nero", "Blu"]
    hand = tmp_path / "c.csv"
    header = "Product Reference;Attribute (Name:Type:Position)*;Value (Value:Position)*;Reference\n"
    hand.write_text(header + "GIA;Taglia:select:1|Colore:select:2;S:1|Nero:1;A\n"
                    "GIA;Taglia:select:2|Colore:select:2;M:2|Nero:2;B\n", encoding="utf-8")
    res = shop.import_combinations(hand, multiple_value_separator="|")
    assert len(res.mismatches) == 2  # Taglia declared 1 then 2; Nero 1 then 2
    hand.write_text(header + "GIA;Taglia:select:1;S:1|Nero:2;C\n", encoding="utf-8")
    res = shop.import_combinations(hand, multiple_value_separator="|")
    assert res.mismatches  # a value with no attribute at its place is dropped


def test_separators_are_the_import_forms_options(tmp_path):
    items = [jacket(s, "Nero", title="Giacca; trapuntata") for s in ("S", "M")]
    report, _ = day(tmp_path, items, delimiter=",", multiple_value_separator=";")
    assert "isCatalogName" in reasons(report)["title"]  # ';' is refused in a name anyway
    items = [jacket(s, "Nero") for s in ("S", "M")]
    _, files = day(tmp_path, items, delimiter=",", multiple_value_separator=";")
    assert files["x.csv"].read_text("utf-8").startswith("Reference #,Active (0/1),Name")
    shop = PrestaShop()
    load(shop, files, mv=";", sep=",")
    assert len(shop.product("GIA").combinations) == 2


def test_a_changed_variant_rewrites_the_whole_product(tmp_path):
    """Images are replaced on each import (Delete existing images), so every
    combination of a changed product is written again with its image positions."""
    ledger = SqliteLedger(tmp_path / "l.db")
    first = [jacket(s, c) for c in ("Nero", "Blu") for s in ("S", "M")]
    _, files = day(tmp_path, first, ledger, 1, mode="changes")
    shop = PrestaShop()
    load(shop, files)
    report, files = day(tmp_path, [jacket("M", "Blu", stock=0)], ledger, 2, mode="changes")
    assert report.tally.sent == 1
    combos = fgetcsv(files["x.combinations.csv"].read_text("utf-8"), ";")[1:]
    assert len(combos) == 4  # the others from the ledger's memory
    load(shop, files)
    gia = shop.product("GIA")
    assert len(gia.images) == 2 and len(gia.combinations) == 4
    urls = {i.id: i.url for i in gia.images}
    assert [urls[i] for i in gia.combination("GIA-M-BLU").images] == [
        "https://cdn.example.com/GIA_Blu.jpg"]
    assert gia.combination("GIA-M-BLU").quantity == 0 and gia.quantity == 9


def test_variants_priced_differently_need_the_tax_rate(tmp_path):
    items = [jacket("S", "Nero"), jacket("M", "Nero", price="199.00")]
    report, _ = day(tmp_path, items, tax_rules_id=1)
    assert "tax_rate" in reasons(report)["price"]
    _, files = day(tmp_path, items, tax_rules_id=1, tax_rate="22")
    shop = PrestaShop(tax_rates={1: Decimal(22)})
    load(shop, files)
    gia = shop.product("GIA")
    assert gia.price == Decimal("154.918033")  # 189 / 1.22
    assert gia.combination("GIA-M-NER").price == Decimal("8.196721")  # 10 / 1.22


def test_check_says_what_prestashop_cannot_carry():
    from filebridge.catalog.coverage import notes
    from filebridge.profile import load_profile
    from filebridge.registry import load_plugins

    said = notes(load_profile(REPO / "profiles" / "catalogo-donna.yaml"), load_plugins())
    mine = [n for n in said if "prestashop_csv" in n]
    assert any("other languages" in n and "only in part" in n and "option labels" in n
               for n in mine), said
    assert any("one discount per product" in n for n in mine)
    assert not any("cannot carry" in n for n in mine)  # categories, filters, specs, EANs


def test_a_level_name_under_two_parents_is_a_warning_because_the_importer_mixes_them(
        tmp_path):
    items = [jacket(s, "Nero") for s in ("S", "M")] + [
        scarf(categories=["Uomo > Giacche"])]
    report, files = day(tmp_path, items)
    warned = [r.reason for r in report.rejects() if r.level == "warning"]
    assert any("'Giacche' appears under two parents" in w for w in warned), warned
    shop = PrestaShop()
    load(shop, files)
    # Category::searchByPath looks a level it just created up by its bare name: the
    # scarf lands in the other Giacche (the reason for the warning).
    assert [shop.path(c) for c in shop.product("SCI-TU").categories] == [
        "Donna > Capispalla > Giacche"]
    assert "Uomo > Giacche" in {shop.path(c) for c in shop.categories}


def test_one_discount_per_product(tmp_path):
    sale = {"sale_price": "149.00", "sale_from": "2026-12-01", "sale_to": "2026-12-31"}
    _, files = day(tmp_path, [jacket(s, "Nero", **sale) for s in ("S", "M")])
    shop = PrestaShop()
    load(shop, files)
    assert shop.product("GIA").discount == {"amount": "40", "tax": "included",
                                            "from": "2026-12-01", "to": "2026-12-31 23:59:59"}
    report, files = day(tmp_path, [jacket("S", "Nero", **sale), jacket("M", "Nero")])
    warned = [r.reason for r in report.rejects() if r.level == "warning"]
    assert any("one discount per product" in w for w in warned) and report.tally.sent == 2
    shop = PrestaShop()
    load(shop, files)
    assert shop.product("GIA").discount is None


def test_a_later_files_new_size_is_placed_among_the_shops_values(tmp_path):
    """Across files (the ledger's attribute_values): the importer keeps a value's
    creation position, so an M first sent after XS, S, L, XL exist must declare S's
    position to land between S and L; the earlier sizes keep the positions they
    were created with. Counted against this file alone, M would land after XS."""
    ledger = SqliteLedger(tmp_path / "l.db")
    rid = ledger.start_run("p")
    shop = PrestaShop()
    first = ledger.claim("p", "d1", "a.csv", 1, rid)
    _, files = day(tmp_path, [jacket(s, "Blu") for s in ("XL", "S", "XS", "L")], ledger,
                   first.id)
    load(shop, files)
    assert shop.group_values("Taglia") == ["XS", "S", "L", "XL"]
    second = ledger.claim("p", "d2", "b.csv", 1, rid)
    report, files = day(tmp_path, [jacket(s, "Blu") for s in ("L", "M")], ledger,
                        second.id)
    assert not [r for r in report.rejects() if r.field == "size"]
    load(shop, files)  # no mismatch: L is declared with the position it was created with
    assert shop.group_values("Taglia") == ["XS", "S", "M", "L", "XL"]


def test_a_later_size_that_belongs_first_is_listed_last_with_a_warning(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    rid = ledger.start_run("p")
    shop = PrestaShop()
    first = ledger.claim("p", "d1", "a.csv", 1, rid)
    load(shop, day(tmp_path, [jacket(s, "Blu") for s in ("S", "M", "L")], ledger,
                   first.id)[1])
    second = ledger.claim("p", "d2", "b.csv", 1, rid)
    report, files = day(tmp_path, [jacket("XS", "Blu")], ledger, second.id)
    warned = [r.reason for r in report.rejects() if r.level == "warning"]
    assert any("'XS' belongs before 'S', created earlier (by an earlier file)" in w
               for w in warned), warned
    load(shop, files)
    assert shop.group_values("Taglia") == ["S", "M", "L", "XS"]  # what the warning says
    # A third file counts XS among the group, where the shop has it (last): XL ranks
    # after every value there, so it goes last too, and XS keeps its position.
    third = ledger.claim("p", "d3", "c.csv", 1, rid)
    _, files = day(tmp_path, [jacket(s, "Blu") for s in ("XS", "XL")], ledger, third.id)
    load(shop, files)
    assert shop.group_values("Taglia") == ["S", "M", "L", "XS", "XL"]

