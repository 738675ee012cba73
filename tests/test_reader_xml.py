from decimal import Decimal
from pathlib import Path

import pytest
from helpers import read_all
from pydantic import ValidationError

from filebridge.errors import RejectedFile
from filebridge.readers.xml import ENTITIES, EXTERNAL_DTD, XmlOptions, XmlReader
from filebridge.records import FileReport


def read(path: Path, **opts):
    return read_all(XmlReader(XmlOptions.model_validate({"format": "xml", **opts})), path)


def write(tmp_path: Path, text: str, name: str = "a.xml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


ARTICOLI = """<?xml version="1.0" encoding="UTF-8"?>
<!-- export di prova -->
<articoli>
  <testata><data>2026-11-27</data></testata>
  <articolo sku="A1">
    <codice>001</codice>
    <prezzo><valore>12.50</valore></prezzo>
    <stock qty="7"/>
    <descrizione>Caffè &amp; tè</descrizione>
  </articolo>
  <articolo sku="A2">
    <codice>002</codice>
    <prezzo><valore>abc</valore></prezzo>
    <stock qty="3"/>
  </articolo>
  <articolo sku="A3">
    <codice>003</codice><codice>999</codice>
    <prezzo><valore>0.99</valore></prezzo>
    <stock qty="-1"/>
  </articolo>
  <articolo sku="A4"><codice/><prezzo><valore>5</valore></prezzo><stock qty="0"/></articolo>
</articoli>
"""

FIELDS = {"sku": {"path": "@sku"}, "codice": {}, "descrizione": {},
          "prezzo": {"path": "prezzo/valore", "type": "decimal", "scale": 2},
          "qty": {"path": "stock/@qty", "type": "integer"}}


def test_children_nested_paths_attributes_typing_and_rejects(tmp_path):
    rows, lines, rep, _ = read(write(tmp_path, ARTICOLI), record="articolo", fields=FIELDS)
    assert rows == [
        {"sku": "A1", "codice": "001", "descrizione": "Caffè & tè",
         "prezzo": Decimal("12.50"), "qty": 7},
        # a repeated child gives its first value; a missing one is null
        {"sku": "A3", "codice": "003", "descrizione": None, "prezzo": Decimal("0.99"),
         "qty": -1},
        {"sku": "A4", "codice": None, "descrizione": None, "prezzo": Decimal("5.00"),
         "qty": 0},
    ]
    assert lines == [5, 16, 21]  # the line of each record's start tag
    [rej] = list(rep.rejects())
    assert (rej.line, rej.field) == (11, "prezzo")
    assert "'abc'" in rej.reason and rej.values["sku"] == "A2"
    assert rep.tally.read == 4 and rep.tally.rejected == 1


def test_filter_counts_skipped_and_tally_balances(tmp_path):
    rows, lines, rep, batches = read(write(tmp_path, ARTICOLI), record="articolo",
                                     fields=FIELDS, filter=[{"field": "qty", "min": 1}])
    assert [r["sku"] for r in rows] == ["A1"] and lines == [5]
    t = rep.tally
    assert (t.read, t.rejected, t.skipped) == (4, 1, 2)
    assert t.read == t.rejected + t.skipped + sum(len(b) for b in batches)


def test_batches_split_at_batch_rows_with_lines_kept(tmp_path):
    body = "".join(f"<r n='{i}'>\n<v>{i}</v>\n</r>\n" for i in range(1, 8))
    p = write(tmp_path, f"<root>\n{body}</root>\n")
    rows, lines, rep, batches = read(p, record="r", batch_rows=3,
                                     fields={"n": {"path": "@n", "type": "integer"},
                                             "v": {}})
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [r["n"] for r in rows] == list(range(1, 8))
    assert [r["v"] for r in rows] == [str(i) for i in range(1, 8)]
    assert lines == [2 + 3 * i for i in range(7)]
    assert rep.tally.read == 7


def test_namespaces_prefixed_and_default(tmp_path):
    p = write(tmp_path, """<?xml version="1.0"?>
<feed xmlns="urn:shop" xmlns:g="urn:google">
  <Items>
    <Item g:id="X1"><g:qty>4</g:qty><title>Maglia</title></Item>
    <Item g:id="X2"><g:qty>5</g:qty><title>Gonna</title></Item>
  </Items>
</feed>
""")
    fields = {"id": {"path": "@g:id"}, "qty": {"path": "g:qty", "type": "integer"},
              "title": {"path": "s:title"}}
    rows, lines, _, _ = read(p, record="s:Items/s:Item", fields=fields,
                             namespaces={"s": "urn:shop", "g": "urn:google"})
    assert rows == [{"id": "X1", "qty": 4, "title": "Maglia"},
                    {"id": "X2", "qty": 5, "title": "Gonna"}]
    assert lines == [4, 5]
    # "" sets the namespace of unprefixed names; unprefixed names otherwise have none
    rows, _, _, _ = read(p, record="Items/Item", fields={"title": {}},
                         namespaces={"": "urn:shop"})
    assert [r["title"] for r in rows] == ["Maglia", "Gonna"]
    with pytest.raises(RejectedFile, match="no <Items/Item> elements"):
        read(p, record="Items/Item", fields={"title": {}})


def test_own_text_and_same_named_elements_elsewhere_are_not_records(tmp_path):
    p = write(tmp_path, """<prezzi>
  <prezzo cod="A">10.5</prezzo>
  <storico><prezzo cod="A">9.0</prezzo></storico>
  <prezzo cod="B">7</prezzo>
</prezzi>""")
    rows, lines, _, _ = read(p, record="prezzo",
                             fields={"cod": {"path": "@cod"},
                                     "valore": {"path": ".", "type": "decimal"}})
    assert rows == [{"cod": "A", "valore": Decimal("10.50")},
                    {"cod": "B", "valore": Decimal("7.00")}]
    assert lines == [2, 4]


def test_declared_encoding_is_honoured(tmp_path):
    p = tmp_path / "a.xml"
    p.write_bytes('<?xml version="1.0" encoding="windows-1252"?>\n<a><r><d>Caffè €</d></r></a>'
                  .encode("cp1252"))
    rows, _, _, _ = read(p, record="r", fields={"d": {}})
    assert rows == [{"d": "Caffè €"}]


@pytest.mark.parametrize("declared, bad", [("UTF-8", b"\xe9"), ("windows-1252", b"\x81"),
                                           (None, b"\xff")])
def test_a_byte_the_declared_encoding_lacks_rejects_its_record(tmp_path, declared, bad):
    """Issue 11 defect 8: one bad byte used to refuse the whole file (read 0)."""
    encoding = declared or "utf-8"
    head = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    records = "".join(f'\n<articolo sku="A{i}"><descrizione>Caff\u00e8 {i}</descrizione>'
                      f"<stock qty=\"{i}\"/></articolo>" for i in range(1, 3001))
    data = (head + "<articoli>" + records + "\n</articoli>\n").encode(encoding)
    data = data.replace("Caff\u00e8 2000<".encode(encoding), b"Caff" + bad + b" 2000<")
    p = tmp_path / "a.xml"
    p.write_bytes(data)
    rows, lines, rep, _ = read(p, record="articolo", batch_rows=500, fields={
        "sku": {"path": "@sku"}, "descrizione": {},
        "qty": {"path": "stock/@qty", "type": "integer"}})
    assert (rep.tally.read, rep.tally.rejected) == (3000, 1)  # every record counted
    assert len(rows) == 2999 and rows[0]["descrizione"] == "Caff\u00e8 1"
    (rej,) = list(rep.rejects())
    assert rej.line == 2001 and rej.field == "descrizione"
    assert rej.reason.startswith(f"bytes {bad!r} are not valid ")
    assert rej.values == {"sku": "A2000", "descrizione": "Caff\ufffd 2000", "qty": "2000"}


def test_a_bad_byte_in_markup_is_still_malformed(tmp_path):
    p = tmp_path / "a.xml"
    p.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?><r><ab\xe9c>1</ab\xe9c></r>')
    with pytest.raises(RejectedFile, match="malformed XML"):
        read(p, record="ab", fields={"x": {"path": "."}})


def test_no_records_names_the_path(tmp_path):
    p = write(tmp_path, "<articoli><item><codice>1</codice></item></articoli>")
    with pytest.raises(RejectedFile, match="no <articolo> elements found"):
        read(p, record="articolo", fields={"codice": {}})
    p = write(tmp_path, "<articoli><x><articolo><codice>1</codice></articolo></x></articoli>")
    with pytest.raises(RejectedFile, match="found one at /articoli/x/articolo"):
        read(p, record="articolo", fields={"codice": {}})


# --- unsafe and broken files --------------------------------------------------------

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz><r><v>&lol3;</v></r></lolz>
"""


def _refused(path: Path, secret: str | None = None, **opts) -> RejectedFile:
    report = FileReport(path.name)
    o = XmlOptions.model_validate({"format": "xml", "record": "r", "fields": {"v": {}},
                                   **opts})
    seen = []
    with pytest.raises(RejectedFile) as exc:
        for b in XmlReader(o).read(path, report):
            seen.append(repr(b.rows()))
    if secret is not None:
        everything = " ".join(seen + [str(exc.value), repr(list(report.rejects()))])
        assert secret not in everything
    assert report.tally.read == 0  # refused before a single value was read
    return exc.value


def test_billion_laughs_is_refused(tmp_path):
    assert _refused(write(tmp_path, LAUGHS)).reason == ENTITIES


@pytest.mark.parametrize("padding", [0, 20_000])  # 20 kB: past the prolog scan
def test_xxe_system_entity_is_refused_and_never_read(tmp_path, padding):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-4242", encoding="utf-8")
    comment = f"<!-- {'x' * padding} -->\n" if padding else ""
    p = write(tmp_path, f"""<?xml version="1.0"?>
{comment}<!DOCTYPE d [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>
<d><r><v>&xxe;</v></r></d>
""")
    assert _refused(p, "TOPSECRET-4242").reason == ENTITIES


def test_parameter_entity_is_refused(tmp_path):
    secret = tmp_path / "secret.dtd"
    secret.write_text('<!ENTITY leak "TOPSECRET-PE">', encoding="utf-8")
    p = write(tmp_path, f"""<!DOCTYPE d [<!ENTITY % ext SYSTEM "{secret.as_uri()}"> %ext;]>
<d><r><v>&leak;</v></r></d>""")
    assert _refused(p, "TOPSECRET-PE").reason == ENTITIES


@pytest.mark.parametrize("padding", [0, 20_000])
def test_external_dtd_is_refused_and_never_loaded(tmp_path, padding):
    dtd = tmp_path / "ext.dtd"
    dtd.write_text('<!ENTITY leak "TOPSECRET-DTD">', encoding="utf-8")
    comment = f"<!-- {'x' * padding} -->\n" if padding else ""
    p = write(tmp_path, f"""<?xml version="1.0"?>
{comment}<!DOCTYPE d SYSTEM "{dtd.as_uri()}">
<d><r><v>1</v></r></d>""")
    assert _refused(p, "TOPSECRET-DTD").reason == EXTERNAL_DTD
    p = write(tmp_path, '<!DOCTYPE d PUBLIC "-//X//DTD X//EN" "http://example.invalid/x.dtd">'
              "<d><r><v>1</v></r></d>")
    assert _refused(p).reason == EXTERNAL_DTD


def test_plain_doctype_without_entities_is_read(tmp_path):
    p = write(tmp_path, "<!DOCTYPE d><d><r><v>1</v></r></d>")
    assert read(p, record="r", fields={"v": {}})[0] == [{"v": "1"}]


def test_truncated_xml_is_refused_with_its_line(tmp_path):
    text = "<d>\n" + "".join(f"<r><v>{i}</v></r>\n" for i in range(5)) + "<r><v>5</v"
    e = _refused_any(write(tmp_path, text))
    assert e.reason.startswith("malformed XML:") and e.line == 7


def test_undeclared_entity_is_malformed(tmp_path):
    e = _refused_any(write(tmp_path, "<d>\n<r><v>1</v></r>\n<r><v>&x;</v></r></d>"))
    assert "Entity 'x' not defined" in e.reason and e.line == 3


def _refused_any(path: Path, **opts) -> RejectedFile:
    o = XmlOptions.model_validate({"format": "xml", "record": "r", "fields": {"v": {}}, **opts})
    with pytest.raises(RejectedFile) as exc:
        for _ in XmlReader(o).read(path, FileReport(path.name)):
            pass
    return exc.value


def test_empty_binary_and_non_xml_files_are_refused(tmp_path):
    (tmp_path / "empty.xml").write_bytes(b"  \n")
    assert "empty" in _refused_any(tmp_path / "empty.xml").reason
    (tmp_path / "junk.xml").write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" * 50)
    assert "binary" in _refused_any(tmp_path / "junk.xml").reason
    (tmp_path / "a.csv").write_text("codice;prezzo\n001;1,50\n", encoding="utf-8")
    assert "not XML" in _refused_any(tmp_path / "a.csv").reason


def test_nesting_deeper_than_max_depth_is_refused(tmp_path):
    deep = "<x>" * 20 + "1" + "</x>" * 20
    p = write(tmp_path, f"<d>\n<r><v>1</v></r>\n<r><v>2</v>\n{deep}</r></d>")
    e = _refused_any(p, max_depth=10)
    assert "deeper than max_depth 10" in e.reason and e.line == 4
    assert len(read(p, record="r", fields={"v": {}}, max_depth=30)[0]) == 2


def test_record_larger_than_max_record_bytes_is_refused(tmp_path):
    big = "<r><v>" + "x" * 300_000 + "</v></r>"
    p = write(tmp_path, "<d>" + "<r><v>1</v></r>" * 3 + big + "</d>")
    e = _refused_any(p, max_record_bytes=100_000)
    assert "larger than max_record_bytes" in e.reason
    rows = read(p, record="r", fields={"v": {}})[0]
    assert len(rows) == 4 and len(rows[3]["v"]) == 300_000


def test_paths_are_checked_when_the_profile_loads():
    with pytest.raises(ValidationError, match="prefix 'g' is not in namespaces"):
        XmlOptions.model_validate({"format": "xml", "record": "r",
                                   "fields": {"q": {"path": "g:qty"}}})
    with pytest.raises(ValidationError, match="is not a path"):
        XmlOptions.model_validate({"format": "xml", "record": "r",
                                   "fields": {"q": {"path": "a//b[1]"}}})
    with pytest.raises(ValidationError, match="not a path of element names"):
        XmlOptions.model_validate({"format": "xml", "record": "/r", "fields": {"q": {}}})
