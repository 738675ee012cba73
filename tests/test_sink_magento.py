"""The Magento product import CSV sink (and its MSI source-items file), its files
imported by a re-implementation of Magento's own importer
(tests/checkers/magento_importer.py) into a simulated shop: what the shop ends up with
is what is asserted, and each check is shown to catch the mistake it guards against."""

from decimal import Decimal

import pyarrow as pa
from checkers.magento_importer import Attr, MagentoShop, import_products, import_sources
from helpers import run_sink

from filebridge.ledger.sqlite import SqliteLedger
from filebridge.records import Batch
from filebridge.sinks.magento_csv import MagentoCsvOptions, MagentoCsvSink

SPEC = {"key": "article", "parent": {"fields": {"title": "prefix"}},
        "options": [{"field": "size", "name": "Taglia", "names": {"en": "Size"},
                     "order": "sizes"},
                    {"field": "colour", "name": "Colore"}]}
ATTRS = {"material": {"name": "Materiale"},
         "composition": {"name": "Composizione", "filter": False}}


def rows(items, first_line=2):
    keys = list(dict.fromkeys(k for r in items for k in r))
    data = {k: [r.get(k) for r in items] for k in keys}
    for k in ("price", "sale_price"):
        if k in data:
            data[k] = pa.array([None if v is None else Decimal(v) for v in data[k]],
                               pa.decimal128(38, 2))
    for k in ("stock", "stock_milano", "stock_web"):
        if k in data:
            data[k] = pa.array(data[k], pa.int64())
    return Batch.from_pydict(data, list(range(first_line, first_line + len(items))))


def jacket(size, colour, **over):
    sku = f"GIA-{size}-{colour[:3].upper()}"
    return {"article": "GIA", "sku": sku, "title": f"Giacca trapuntata - {size}",
            "title@en": "Quilted jacket", "description": "Giacca leggera.",
            "size": size, "colour": colour, "price": "189.00", "stock": 3,
            "barcode": "8012345000005", "categories": ["Donna > Capispalla > Giacche"],
            "material": "Nylon", "composition": "100% nylon",
            "composition@en": "100% nylon (en)", "status": "active",
            "sale_price": "149.00", "sale_from": "2026-12-01", "sale_to": "2027-01-06",
            "images": [f"https://cdn.example.com/GIA_{colour}.jpg"]} | over


def shop(**over):
    attrs = {"size": Attr("size", "select", "global", ["TU", "S", "M", "L", "XL"]),
             "color": Attr("color", "select", "global", ["Nero", "Blu"]),
             "material": Attr("material", "multiselect", "global", ["Nylon", "Lana"]),
             "composition": Attr("composition", "text", "store"),
             "ean": Attr("ean", "text", "global")}
    return MagentoShop(**({"stores": {"default": 1, "en": 2}} | over), attributes=attrs)


def day(tmp_path, ledger, file_id, items, languages=("it", "en"), **options):
    out = tmp_path / "out"
    for f in out.glob("*.csv"):
        f.unlink()
    o = MagentoCsvOptions.model_validate({
        "format": "magento_csv", "path": "out/{stem}.csv", "parent_sku": "P-{key}",
        "attributes": {"colour": "color"}, "store_views": {"en": "en"},
        "barcode_attribute": "ean", **options})
    report = run_sink(MagentoCsvSink(o), tmp_path, [rows(items)], SPEC,
                      languages=list(languages), attributes=ATTRS, ledger=ledger,
                      file_id=file_id)
    return report, {f.name: f for f in out.glob("*.csv")}


def reasons(report):
    return {r.line: r.reason for r in report.rejects() if r.level == "reject"}


def test_a_configurable_with_its_children_store_view_and_sale(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [jacket("M", "Nero"), jacket("S", "Nero"), jacket("L", "Blu")]
    report, files = day(tmp_path, ledger, 1, items)
    assert not reasons(report)
    m = shop()
    res = import_products(m, files["x.csv"])
    assert not res.errors and not res.dropped_links, (res.errors, res.dropped_links)
    p = m.product("P-GIA")
    assert (p.type, p.value("visibility")) == ("configurable", "4")
    assert p.children == ["GIA-S-NER", "GIA-M-NER", "GIA-L-BLU"]  # in size order
    assert p.super_labels == {"size": "Taglia", "color": "Colore"}
    assert p.categories == {("Default Category", "Donna", "Capispalla", "Giacche")}
    assert m.value("P-GIA", "name") == "Giacca trapuntata"
    assert m.value("P-GIA", "name", "en") == "Quilted jacket"
    # The English row has no description: the Italian one shows, nothing is blanked.
    assert m.value("P-GIA", "description", "en") == "Giacca leggera."
    assert m.value("P-GIA", "composition", "en") == "100% nylon (en)"
    assert m.value("P-GIA", "composition") == "100% nylon"
    child = m.product("GIA-L-BLU")
    assert (child.type, child.value("visibility"), child.value("size"),
            child.value("color")) == ("simple", "1", "L", "Blu")
    assert (child.value("price"), child.value("special_price"),
            child.value("special_from_date"), child.value("special_to_date")) == (
        "189.00", "149.00", "2026-12-01", "2027-01-06")
    assert child.value("ean") == "8012345000005" and child.qty == 3 and child.in_stock
    assert p.gallery[0] == ("https://cdn.example.com/GIA_Nero.jpg", "")
    # Whatever rows the importer's bunches (100 rows) cut a product into, the same shop.
    one = shop()
    assert not import_products(one, files["x.csv"], bunch=1).errors
    assert (one.value("P-GIA", "name"), one.value("P-GIA", "name", "en")) == (
        "Giacca trapuntata", "Quilted jacket")
    # Categories are never on a store-view row: no English tree is created.
    assert res.created_categories == [("default category", "donna"),
                                      ("default category", "donna", "capispalla"),
                                      ("default category", "donna", "capispalla", "giacche")]


def test_a_changed_child_rewrites_the_configurable_with_every_child(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [jacket("M", "Nero"), jacket("S", "Nero"), jacket("L", "Blu")]
    _, files = day(tmp_path, ledger, 1, items, mode="changes")
    m = shop()
    assert not import_products(m, files["x.csv"]).errors
    _, files = day(tmp_path, ledger, 2, [jacket("L", "Blu", price="179.00")], mode="changes")
    text = files["x.csv"].read_text()
    assert "GIA-M-NER," not in text.split("\n", 1)[1].split("P-GIA")[0]  # only L's row
    res = import_products(m, files["x.csv"])
    assert not res.errors and not res.dropped_links
    assert m.product("P-GIA").children == ["GIA-S-NER", "GIA-M-NER", "GIA-L-BLU"]
    assert m.value("GIA-L-BLU", "price") == "179.00"


def test_mistakes_the_checker_catches(tmp_path):
    """Each edit of a good file is a mistake a writer could make; the re-implemented
    importer turns each into a visible difference or error."""
    ledger = SqliteLedger(tmp_path / "l.db")
    _, files = day(tmp_path, ledger, 1, [jacket("M", "Nero"), jacket("S", "Nero")])
    good = files["x.csv"].read_text()

    def imported(text):
        f = tmp_path / "edited.csv"
        f.write_text(text)
        m = shop()
        return m, import_products(m, f)

    m, res = imported(good)
    assert not res.errors and m.product("P-GIA").children == ["GIA-S-NER", "GIA-M-NER"]
    # a child missing from configurable_variations: not linked
    m, _ = imported(good.replace("sku=GIA-S-NER,size=S,color=Nero|", ""))
    assert m.product("P-GIA").children == ["GIA-M-NER"]
    # a variation label missing: the attribute's own label shows
    m, _ = imported(good.replace(",color=Colore", ""))
    assert m.product("P-GIA").super_labels == {"size": "Taglia"}
    # the same child twice
    _, res = imported(good.replace("sku=GIA-S-NER,size=S,color=Nero|",
                                   "sku=GIA-S-NER,size=S,color=Nero|" * 2))
    assert any("contains duplicated variations" in e for _, e in res.errors)
    # a store-view row before its default row: the default name becomes English
    lines = good.splitlines(keepends=True)
    en = next(i for i, ln in enumerate(lines) if ln.startswith("P-GIA,en,"))
    parent = next(i for i, ln in enumerate(lines) if ln.startswith("P-GIA,,"))
    swapped = lines[:parent] + [lines[en], lines[parent]] + lines[en + 1:]
    m, res = imported("".join(swapped))
    assert not res.errors and m.value("P-GIA", "name") == "Quilted jacket"
    # a store-view row blanking a field: the English name is gone
    m, res = imported(good.replace(",en,Default,configurable,,,Quilted jacket,",
                                   ",en,Default,configurable,,,__EMPTY__VALUE__,"))
    assert not res.errors and m.value("P-GIA", "name", "en") != "Quilted jacket"
    # a category path with an unescaped separator: a level too many
    m, _ = imported(good.replace("Default Category/Donna/Capispalla/Giacche",
                                 "Default Category/Donna/Capi/spalla/Giacche"))
    assert len(next(iter(m.product("P-GIA").categories))) == 5
    # a date in a form the importer refuses (slashes are month/day/year)
    _, res = imported(good.replace("2027-01-06", "06/31/2027"))
    assert any("'special_to_date' attribute contains incorrect value" in e
               for _, e in res.errors)
    # a duplicate URL key
    _, res = imported(good.replace("quilted-jacket-gia", "giacca-trapuntata-gia"))
    assert not res.errors  # the same key for the same SKU in another store: allowed
    body = good.split("\n", 1)[1]
    two = good + body.replace("P-GIA", "P-GIB").replace("GIA-", "GIB-")
    _, res = imported(two)
    assert any("Url key: 'giacca-trapuntata-gia' was already generated for an item with "
               "the SKU: 'P-GIA'" in e for _, e in res.errors)
    # an option value the shop does not have
    _, res = imported(good.replace("color=Nero", "color=Verde"))
    assert any("Value for 'color' attribute contains incorrect value" in e
               for _, e in res.errors)


def test_products_it_cannot_write_are_refused_the_others_go_on(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [
        jacket("M", "Nero", categories=["Donna > Capi, spalla"]),
        {"article": "SCA", "sku": "SCA-1", "title": "Sciarpa", "size": "TU",
         "colour": "Nero", "material": "Lana, mista=si", "price": "39.00"},
        {"article": "CAP", "sku": "CAP-1", "title": "Cappello", "handle": "giacca",
         "size": "TU", "colour": "Nero", "price": "29.00"},
        {"article": "BER", "sku": "BER-1", "title": "Berretto", "handle": "Giacca",
         "size": "TU", "colour": "Nero", "price": "25.00",
         "categories": ["Accessori > Cappelli/Berretti"]},
    ]
    report, files = day(tmp_path, ledger, 1, items)
    why = reasons(report)
    assert "the name 'Capi, spalla' holds ','" in why[2]
    assert "material: the value 'Lana, mista=si' has '=' after a ','" in why[3]
    assert "url_key 'giacca' is product CAP's already" in why[5]
    assert 4 not in why and report.tally.rejected == 3
    m = shop()
    res = import_products(m, files["x.csv"])
    assert not res.errors
    assert m.value("CAP-1", "url_key") == "giacca" and "BER-1" not in m.products


def test_a_name_with_a_slash_stays_one_category(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    item = {"article": "BER", "sku": "BER-1", "title": "Berretto", "size": "TU",
            "colour": "Nero", "categories": ["Accessori > Cappelli/Berretti"]}
    _, files = day(tmp_path, ledger, 1, [item])
    assert "Default Category/Accessori/Cappelli\\/Berretti" in files["x.csv"].read_text()
    m = shop()
    assert not import_products(m, files["x.csv"]).errors
    assert m.product("BER-1").categories == {("Default Category", "Accessori",
                                              "Cappelli/Berretti")}
    assert m.product("BER-1").type == "simple" and m.value("BER-1", "visibility") == "4"


def test_stock_per_source_in_the_msi_file(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [jacket("M", "Nero", stock_milano=2, stock_web=0),
             jacket("S", "Nero", stock_milano=0, stock_web=0)]
    _, files = day(tmp_path, ledger, 1, items, sources={
        "path": "out/{stem}.sources.csv",
        "sources": {"milano": "stock_milano", "web": "stock_web"}})
    m = shop(sources={"milano", "web"})
    res = import_products(m, files["x.csv"])
    assert not res.errors
    assert "qty" not in files["x.csv"].read_text().splitlines()[0].split(",")
    res = import_sources(m, files["x.sources.csv"])
    assert not res.errors and not res.orphans and not res.composite
    assert m.source_items == {("milano", "GIA-M-NER"): (2, 1), ("web", "GIA-M-NER"): (0, 0),
                              ("milano", "GIA-S-NER"): (0, 0), ("web", "GIA-S-NER"): (0, 0)}
    assert m.product("GIA-S-NER").in_stock is False and m.product("P-GIA").in_stock
    # a source the shop does not have is an error of the whole file
    assert import_sources(shop(), files["x.sources.csv"]).errors[0] == (
        2, 'Source code "milano" does not exists')


def test_check_says_what_the_files_leave_out(tmp_path):
    from filebridge.catalog.coverage import notes
    from filebridge.profile import load_profile
    from filebridge.registry import load_plugins

    p = tmp_path / "p.yaml"
    p.write_text("""
name: p
source: {kind: local, path: in}
read: {format: csv}
map:
  key: sku
  languages: [it, en, de]
  fields: {sku: {from: SKU}, title: {from: T}, title@en: {from: TE}, barcode: {from: EAN}}
write:
  - {format: magento_csv, path: out.csv, store_views: {en: en, fr: fr}}
""")
    got = notes(load_profile(p), load_plugins())
    assert "write[0] magento_csv: no store view for de (store_views: language -> codes): " \
           "texts in those languages are not written" in got
    assert "write[0] magento_csv: a barcode field but no barcode_attribute: barcodes are " \
           "not written" in got
    assert "write[0] magento_csv: store_views name fr, not among the profile's other " \
           "languages (map.languages): no rows for those store views" in got


def test_the_php_csv_reader_keeps_backslashes(tmp_path):
    from checkers.magento_importer import read_php_csv

    assert read_php_csv('a,"b\\"c",d\n') == [["a", 'b\\"c', "d"]]  # fgetcsv keeps it
    assert read_php_csv('a,"x\\/y",z\r\n') == [["a", "x\\/y", "z"]]


def test_what_a_record_no_longer_has_is_cleared_in_the_shop(tmp_path):
    """An empty cell keeps the shop's value, so a sale that ended or a translation
    withdrawn is written __EMPTY__VALUE__ (from the ledger's memory of what was sent)."""
    ledger = SqliteLedger(tmp_path / "l.db")
    day1 = [jacket("M", "Nero", **{"description@en": "Light jacket."}),
            jacket("S", "Nero", **{"description@en": "Light jacket."})]
    _, files = day(tmp_path, ledger, 1, day1, mode="changes")
    m = shop()
    assert not import_products(m, files["x.csv"]).errors
    assert m.value("P-GIA", "description", "en") == "Light jacket."
    assert m.value("GIA-M-NER", "special_price") == "149.00"
    day2 = [jacket("M", "Nero", sale_price=None, sale_from=None, sale_to=None),
            jacket("S", "Nero")]
    _, files = day(tmp_path, ledger, 2, day2, mode="changes")
    res = import_products(m, files["x.csv"])
    assert not res.errors
    assert m.value("GIA-M-NER", "special_price") is None
    assert m.value("GIA-M-NER", "special_from_date") is None
    assert m.value("GIA-S-NER", "special_price") == "149.00"  # its sale goes on
    assert m.value("P-GIA", "description", "en") == "Giacca leggera."  # the default again
    assert m.value("P-GIA", "name", "en") == "Quilted jacket"
    # Written empty instead, the ended sale would stay in the shop.
    edited = tmp_path / "kept.csv"
    edited.write_text(files["x.csv"].read_text().replace("__EMPTY__VALUE__", ""))
    (tmp_path / "again").mkdir()
    _, first = day(tmp_path / "again", SqliteLedger(tmp_path / "l2.db"), 1, day1)
    m2 = shop()
    assert not import_products(m2, first["x.csv"]).errors
    assert not import_products(m2, edited).errors
    assert m2.value("GIA-M-NER", "special_price") == "149.00"
    assert m2.value("P-GIA", "description", "en") == "Light jacket."


def test_a_backslash_php_would_read_as_an_escape_is_refused(tmp_path):
    from checkers.magento_importer import read_php_csv

    ledger = SqliteLedger(tmp_path / "l.db")
    items = [{"article": "A", "sku": "A-1", "title": "Borsa", "size": "TU", "colour": "Nero",
              "description": 'Tracolla 40", regolabile \\', "price": "10.00"},
             {"article": "B", "sku": "B-1", "title": "Cintura", "size": "TU",
              "colour": "Nero", "description": "Fibbia C:\\ metallo", "price": "20.00"}]
    report, files = day(tmp_path, ledger, 1, items)
    assert "description: " in reasons(report)[2] and "fgetcsv" in reasons(report)[2]
    assert 3 not in reasons(report)
    m = shop()
    assert not import_products(m, files["x.csv"]).errors
    assert m.value("B-1", "description") == "Fibbia C:\\ metallo"
    # What PHP makes of such a cell: the quote after the backslash is text.
    assert read_php_csv('A-1,"regolabile \\",10.00\n') == [["A-1", 'regolabile \\",10.00\n']]


def test_a_url_key_is_taken_in_every_language(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [{"article": "A", "sku": "A-1", "title": "Scarf", "handle": "scarf",
              "size": "TU", "colour": "Nero"},
             {"article": "B", "sku": "B-1", "title": "Sciarpa", "title@en": "Scarf",
              "handle@en": "scarf", "size": "TU", "colour": "Nero"}]
    report, files = day(tmp_path, ledger, 1, items)
    assert "url_key 'scarf' (store view en) is product A's already" in reasons(report)[3]
    # The importer agrees: the default row's key is A's in every store view.
    text = files["x.csv"].read_text()
    row = 'B-1,,Default,simple,base,Sciarpa,,"Catalog, Search",sciarpa,"size=TU,color=Nero",,\n'
    f = tmp_path / "both.csv"
    f.write_text(text + row + "B-1,en,Default,simple,,Scarf,,,scarf,,,\n")
    res = import_products(shop(), f)
    assert any("Url key: 'scarf' was already generated for an item with the SKU: 'A-1'"
               in e for _, e in res.errors)


def test_image_urls_are_written_as_magento_validates_them(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    item = {"article": "A", "sku": "A-1", "title": "Borsa", "size": "TU", "colour": "Nero",
            "images": ["https://cdn.example.com/foto borsa,nera.jpg",
                       "https://cdn.example.com/A%201.jpg"], "image_alt": "Borsa nera"}
    _, files = day(tmp_path, ledger, 1, [item])
    m = shop()
    res = import_products(m, files["x.csv"])
    assert not res.errors
    assert m.product("A-1").gallery == [
        ("https://cdn.example.com/foto%20borsa%2Cnera.jpg", "Borsa nera"),
        ("https://cdn.example.com/A%201.jpg", "Borsa nera")]
    raw = files["x.csv"].read_text().replace("%20borsa%2Cnera", " borsa,nera")
    (tmp_path / "raw.csv").write_text(raw)
    assert import_products(shop(), tmp_path / "raw.csv").errors  # as they came: refused


def test_a_url_key_an_earlier_file_gave_another_product_refuses_the_new_one(tmp_path):
    """Across files (the ledger's url_keys): a new product whose URL key an earlier,
    finished file gave another product is refused naming both; the product that has
    it may carry it again; the importer agrees (a file made without that memory is
    refused by the shop, which keeps the key for its first SKU)."""
    ledger = SqliteLedger(tmp_path / "l.db")
    rid = ledger.start_run("p")
    scarf = {"article": "A", "sku": "A-1", "title": "Scarf", "handle": "scarf",
             "size": "TU", "colour": "Nero", "price": "20.00"}
    other = {"article": "B", "sku": "B-1", "title": "Sciarpa", "handle": "Scarf",
             "size": "TU", "colour": "Nero", "price": "25.00"}
    hat = {"article": "C", "sku": "C-1", "title": "Cappello", "size": "TU",
           "colour": "Nero", "price": "15.00"}
    first = ledger.claim("p", "d1", "a.csv", 1, rid)
    report, files = day(tmp_path, ledger, first.id, [scarf])
    assert not reasons(report)
    m = shop()
    assert not import_products(m, files["x.csv"]).errors
    second = ledger.claim("p", "d2", "b.csv", 1, rid)
    report, files = day(tmp_path, ledger, second.id, [other, hat,
                                                       scarf | {"price": "19.00"}])
    why = reasons(report)
    assert set(why) == {2}, why
    assert "url_key 'scarf' is product A's already (in an earlier file)" in why[2]
    res = import_products(m, files["x.csv"])
    assert not res.errors, res.errors
    assert m.value("A-1", "price") == "19.00" and m.value("C-1", "url_key") == "cappello-c"
    assert "B-1" not in m.products

    # Without the memory (a fresh ledger), the file names the key again: the shop
    # refuses the row, as the checker shows.
    _, files = day(tmp_path, SqliteLedger(tmp_path / "fresh.db"), 1, [other])
    res = import_products(m, files["x.csv"])
    assert any("Url key: 'scarf' was already generated for an item with the SKU: 'A-1'"
               in e for _, e in res.errors), res.errors


def test_website_prices_are_store_view_rows_kept_for_their_website(tmp_path):
    """website_prices (price_scope: website): a row per SKU with a store view's code
    and its price; the importer keeps it for every store of that view's website and
    the default price elsewhere. With the catalog price scope global the same rows
    would replace the default price in every website (the checker shows it), so the
    option is refused without price_scope: website."""
    import pytest
    from pydantic import ValidationError

    ledger = SqliteLedger(tmp_path / "l.db")
    items = [jacket("M", "Nero", price_ch="199.00", compare_ch="229.00"),
             jacket("S", "Nero", price_ch="199.00"),
             {"article": "SCA", "sku": "SCA-1", "title": "Sciarpa", "size": "TU",
              "colour": "Nero", "price": "39.00", "price_ch": "45.00"}]
    prices = {"ch_de": {"price": "price_ch", "compare_at_price": "compare_ch"}}
    report, files = day(tmp_path, ledger, 1, items, price_scope="website",
                        website_prices=prices)
    assert not reasons(report)

    def swiss(scope):
        m = shop(stores={"default": 1, "en": 2, "ch_de": 3}, websites={"base", "ch"},
                 store_websites={"ch_de": "ch"})
        for code in ("price", "special_price"):
            m.attributes[code] = Attr(code, "decimal", scope)
        return m

    m = swiss("website")
    res = import_products(m, files["x.csv"])
    assert not res.errors, res.errors
    for view in (None, "default", "en"):  # the base website: the default prices
        assert (m.value("GIA-M-NER", "price", view), m.value("GIA-M-NER", "special_price",
                                                             view)) == ("189.00", "149.00")
        assert m.value("SCA-1", "price", view) == "39.00"
    # the Swiss website: its own price; a compare-at price above it is the price
    assert (m.value("GIA-M-NER", "price", "ch_de"),
            m.value("GIA-M-NER", "special_price", "ch_de")) == ("229.00", "199.00")
    assert m.value("GIA-S-NER", "price", "ch_de") == "199.00"
    assert m.value("SCA-1", "price", "ch_de") == "45.00"
    # the same whichever rows the importer's bunches cut the file into
    one = swiss("website")
    assert not import_products(one, files["x.csv"], bunch=1).errors
    assert [one.value("SCA-1", "price", v) for v in ("default", "ch_de")] == ["39.00",
                                                                             "45.00"]
    # What the option guards against: in a shop whose price scope is global, a
    # store-view row's price is the default price of every website (within a bunch
    # the default row's value comes first and wins; a bunch cut between them, or a
    # later import, leaves the Swiss price everywhere).
    g = swiss("global")
    assert not import_products(g, files["x.csv"], bunch=1).errors
    assert [g.value("SCA-1", "price", v) for v in ("default", "ch_de")] == ["45.00",
                                                                           "45.00"]

    with pytest.raises(ValidationError, match="website_prices need price_scope: website"):
        MagentoCsvOptions.model_validate({"format": "magento_csv", "path": "x.csv",
                                          "website_prices": prices})
