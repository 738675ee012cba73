"""The XML reader's fast path (readers/xml_flat.py) against its lxml path: over
seeded random documents, flat and not, well formed and not, both give the same
batches (values, nulls, lines), rejects, tallies and refusals."""

import random
from pathlib import Path

import pytest

from filebridge.errors import RejectedFile
from filebridge.readers.xml import XmlOptions, XmlReader
from filebridge.readers.xml_flat import Unsure, _text_child
from filebridge.records import FileReport

FIELDS = {"a": {}, "n": {"path": "b", "type": "integer"}, "c": {}, "d": {"path": "c"},
          "e": {"path": "e"}}
VALUES = ["x", "12", "-3", "7", "", "  pad  ", "caffè", "a &amp; b", "&lt;t&gt;", "&quot;&apos;",
          "1 > 0", "]", "€", "x" * 300, "&amp;amp;", "ü\u2028"]
ODD_VALUES = [" ", "\n", "\t9", "a\nb", "&#233;", "&#x41;", "&und;", "a\r\nb", "\xa0"]
# A child as written: the plain forms most of the time, the others now and then.
ODD = ["<{t}/>", "<{t} k='1'>{v}</{t}>", "<{t}><i>{v}</i></{t}>", "<{t}><![CDATA[{v}]]></{t}>",
       "<{t}>{v}<!-- c --></{t}>", "<{t}>{v}<?pi x?></{t}>", "<p:{t} xmlns:p='u'>{v}</p:{t}>",
       "<{t}>{v}</{t}><{t}>again</{t}>", "<{t} >{v}</{t} >", "<{t}>{v}"]


def _child(rng: random.Random, tag: str, odd: float) -> str:
    v = rng.choice(VALUES) if rng.random() < 0.3 else str(rng.randint(-5, 99))
    if rng.random() < odd:
        v = rng.choice(ODD_VALUES)
    if rng.random() < odd:
        return rng.choice(ODD).format(t=tag, v=v)
    return f"<{tag}>{v}</{tag}>"


def _document(rng: random.Random) -> tuple[str, dict]:
    odd = rng.choice([0.0, 0.0, 0.0, 0.01, 0.05])
    tags = rng.sample(["a", "b", "c", "e", "z"], rng.randint(1, 5))
    sep = rng.choice(["", "\n", "\n    ", " \t"])
    vary = rng.choice([0.0, 0.3])  # children left out, moved, repeated: still flat
    records = []
    for _ in range(rng.randint(1, 40)):
        kids = list(tags)
        if rng.random() < max(odd, vary):
            rng.shuffle(kids)
        if rng.random() < max(odd, vary) and kids:
            kids.pop()
        if rng.random() < vary / 3 and kids:
            kids.append(rng.choice(kids))
        body = sep.join(_child(rng, t, odd) for t in kids)
        own = rng.choice(["", "\n", "t"]) if rng.random() < odd else sep
        start = rng.choice(["<r k='1'>", "<r >", "<!-- c --><r>"]) if rng.random() < odd else "<r>"
        records.append(f"{start}{own}{body}{sep}</r>")
    between = rng.choice(["\n", "\n  ", "", " x "]) if rng.random() < odd * 5 else "\n"
    pad = "\n" * rng.choice([0, 0, 65525, 65534])  # libxml2 keeps lines to 65535
    head = rng.choice(['<?xml version="1.0" encoding="UTF-8"?>\n', "", "<?xml version='1.0'?>",
                       "<!DOCTYPE root>\n", '<?xml version="1.0" encoding="ISO-8859-1"?>\n',
                       "<!-- c -->\n", "<?xml version='1.0'?><!-- <r> --><?pi x?>",
                       "<?xml version='1.1'?>"]
                      if rng.random() < 0.3 else ["<?xml version='1.0'?>\n"])
    root = rng.choice(["<root>", "<root a='1'>", "<root xmlns='u'>", "<r>"] if rng.random() < 0.1
                      else ["<root>"])
    text = (f"{head}{root}{pad}\n" + between.join(records) + "\n"
            + f"</{root[1:].split()[0].rstrip('>')}>"
            + rng.choice(["\n", "\n", "<!-- end -->\n", "<?pi?>", "<!-- x --> y"]))
    if rng.random() < 0.05:
        text = text[:rng.randrange(len(text))]  # truncated
    if rng.random() < 0.1:
        text = text.replace("\n", "\r\n")
    opts = {"format": "xml", "record": "r", "fields": FIELDS,
            "batch_rows": rng.choice([1, 3, 7, 20_000]),
            "max_depth": rng.choice([64, 64, 3, 2]),
            "max_record_bytes": rng.choice([1 << 20, 4096])}
    return text, opts


def _outcome(path: Path, opts: dict, fast: bool) -> tuple:
    reader = XmlReader(XmlOptions.model_validate(opts))
    if not fast:
        reader.flat = None
    report = FileReport(path.name)
    try:
        batches = [(b.table.to_pylist(), b.lines.to_pylist()) for b in reader.read(path, report)]
    except RejectedFile as e:
        return "refused", e.reason, e.line
    rejects = [(r.line, r.field, r.reason, r.values, r.value) for r in report.rejects()]
    return batches, rejects, report.tally


def _flat(path: Path, opts: dict) -> bool:
    """Whether the fast path reads the whole file (else the lxml path takes over)."""
    reader = XmlReader(XmlOptions.model_validate(opts))
    if reader.flat is None:
        return False
    try:
        for _ in reader.flat.batches(path):
            pass
    except Unsure:
        return False
    return True


@pytest.mark.parametrize("seed", range(8))
def test_fast_path_reads_as_lxml_does(tmp_path, seed):
    rng = random.Random(seed)
    taken = 0
    for i in range(40):
        text, opts = _document(rng)
        path = tmp_path / f"{i}.xml"
        path.write_bytes(text.encode("utf-8"))
        assert _outcome(path, opts, True) == _outcome(path, opts, False), (seed, i)
        taken += _flat(path, opts)
    assert taken >= 3  # the fast path was really exercised


def test_records_of_different_shapes_are_read_fast(tmp_path):
    shapes = ["<r><a>1</a><b>2</b></r>", "<r><b>3</b></r>", "<r><b>4</b><a>5</a><a>6</a></r>",
              "<r><z>7</z></r>", "<r><c></c><a>8</a></r>"]
    p = tmp_path / "a.xml"
    p.write_text("<root>\n" + "\n".join(shapes * 3) + "\n</root>\n", encoding="utf-8")
    opts = {"format": "xml", "record": "r", "fields": FIELDS, "batch_rows": 4}
    assert _flat(p, opts)
    fast = _outcome(p, opts, True)
    assert fast == _outcome(p, opts, False)
    assert [r["a"] for b, _ in fast[0] for r in b][:5] == ["1", None, "5", None, "8"]


def test_a_switch_mid_file_gives_each_record_once(tmp_path):
    """Flat batches first, then a record the fast path leaves to lxml: no record lost
    or repeated, lines kept."""
    flat = "".join(f"<r><a>{i}</a><b>{i}</b></r>\n" for i in range(60_000))
    p = tmp_path / "a.xml"
    p.write_text(f"<root>\n{flat}<r><a k='1'>odd</a></r>\n{flat}</root>\n", encoding="utf-8")
    opts = {"format": "xml", "record": "r", "fields": FIELDS, "batch_rows": 7000}
    flat_path = XmlReader(XmlOptions.model_validate(opts)).flat
    assert flat_path is not None
    given = []
    with pytest.raises(Unsure):
        for _, lines in flat_path.batches(p):
            given.append(len(lines))
    assert given  # batches were given before the odd record
    fast, slow = _outcome(p, opts, True), _outcome(p, opts, False)
    assert fast == slow
    assert [r["a"] for b, _ in fast[0] for r in b][59998:60002] == ["59998", "59999", "odd", "0"]


def test_lines_past_65535_follow_libxml2(tmp_path):
    """Past line 65535 lxml gives the line of a record's first text (libxml2 keeps no
    element line there): the fast path gives the same, empty children included."""
    recs = ["<r>\n<a>1</a>\n</r>", "<r><a></a>\n<b>2</b></r>",
            "<r><a></a><b></b><c></c>\n<e>4</e></r>", "<r><a></a><b></b><c></c><e></e></r>",
            "<r>\n<a></a>\n<b>\n</b></r>", "<r>t<a></a>\n<b>2</b></r>",
            "<r><a></a> x <c></c>\n<b>2</b></r>"]
    p = tmp_path / "a.xml"
    for body in recs:
        p.write_text("<root>" + "\n" * 65530 + "\n".join([body] * 4) + "\n</root>",
                     encoding="utf-8")
        opts = {"format": "xml", "record": "r", "fields": FIELDS}
        assert _outcome(p, opts, True) == _outcome(p, opts, False), body
        if body.startswith("<r><a></a>\n<b>"):  # compact and blank: the fast path's
            assert _flat(p, opts)


def test_text_child_walks_as_xmlgetlineno():
    assert _text_child([False, False], 2) == 0
    assert _text_child([True, False], 2) == 1
    assert _text_child([True, True, True, False], 4) is None  # five nodes deep
    assert _text_child([True, True], 2) is None


@pytest.mark.parametrize("text", ["<root>\n<r><a>x\r\ny</a><b>1</b></r>\n</root>",
                                  "<root>\n<r><a>x&#13;y</a><b>&#49;</b></r>\n</root>",
                                  "<root>\n<r><a>&lt;&amp;lt;&gt;</a><b>\n</b></r>\n</root>"])
def test_what_xml_rewrites_in_text_reads_as_lxml_does(tmp_path, text):
    p = tmp_path / "a.xml"
    p.write_bytes(text.encode("utf-8"))
    opts = {"format": "xml", "record": "r", "fields": FIELDS}
    assert _outcome(p, opts, True) == _outcome(p, opts, False)
