"""The Jinja2 template sink: typed records, autoescaping, secrets, the sandbox, errors."""

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal

import pyarrow as pa
import pytest
from pydantic import ValidationError

from filebridge.errors import OutputError
from filebridge.outputs import Outbox
from filebridge.records import Batch
from filebridge.sinks.base import SinkContext
from filebridge.sinks.template import TemplateSink, TemplateSinkOptions

FEED = """\
<?xml version="1.0" encoding="UTF-8"?>
<feed file="{{ file }}" profile="{{ profile }}" count="{{ count }}" token="{{ secrets.token }}">
{%- for r in records %}
  <item sku="{{ r.sku }}">
    <title>{{ r.title }}</title>
    <price>{{ r.price }}</price>
    <stock>{{ r.stock + 0 }}</stock>
    <since>{{ r.since.strftime('%d/%m/%Y') if r.since else '' }}</since>
    <ean>{{ r.ean }}</ean>
  </item>
{%- endfor %}
</feed>
"""


def batches():
    def b(skus, titles, prices, stocks, since, eans, lines):
        return Batch.from_pydict({
            "sku": skus, "title": titles,
            "price": pa.array([Decimal(p) for p in prices], pa.decimal128(38, 2)),
            "stock": pa.array(stocks, pa.int64()), "since": pa.array(since, pa.date32()),
            "ean": pa.array(eans, pa.string())}, lines)
    return [b(["A-1", "A-2"], ["Fish & Chips <hot>", "Tè"], ["19.90", "0.10"], [3, 0],
              [dt.date(2024, 3, 15), None], ["4006381333931", None], [1, 2]),
            b(["A-3"], ["Plain"], ["1234567.89"], [12], [None], [None], [3])]


def options(tmp_path, **kw):
    return TemplateSinkOptions.model_validate({"format": "template", "path": "feed/{stem}.xml",
                                               **kw}, context={"base": tmp_path})


def render(tmp_path, o, batches):
    ctx = SinkContext(base=tmp_path, vars={"stem": "x", "name": "x.csv", "profile": "p"},
                      outbox=Outbox())
    sink = TemplateSink(o)
    sink.start(ctx)
    for b in batches:
        sink.write(b)
    try:
        sink.finish()
    except BaseException:
        ctx.outbox.abort()
        raise
    ctx.outbox.publish()
    return (tmp_path / "feed" / "x.xml").read_text(encoding="utf-8")


def test_xml_feed_autoescaped_typed_with_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("FEED_TOKEN", "s3cr&t")
    (tmp_path / "feed.xml.j2").write_text(FEED, encoding="utf-8")
    o = options(tmp_path, template="feed.xml.j2", secrets={"token": "${FEED_TOKEN}"})
    assert "s3cr" not in repr(o) and "s3cr" not in o.model_dump_json()
    out = render(tmp_path, o, batches())
    assert "Fish &amp; Chips &lt;hot&gt;" in out and 'token="s3cr&amp;t"' in out
    root = ET.fromstring(out.encode("utf-8"))
    assert root.attrib == {"file": "x.csv", "profile": "p", "count": "3", "token": "s3cr&t"}
    items = [{c.tag: c.text or "" for c in item} | {"sku": item.get("sku") or ""}
             for item in root]
    assert items == [
        {"sku": "A-1", "title": "Fish & Chips <hot>", "price": "19.90", "stock": "3",
         "since": "15/03/2024", "ean": "4006381333931"},
        {"sku": "A-2", "title": "Tè", "price": "0.10", "stock": "0", "since": "", "ean": ""},
        {"sku": "A-3", "title": "Plain", "price": "1234567.89", "stock": "12", "since": "",
         "ean": ""}]
    assert not list((tmp_path / "feed").glob(".filebridge-tmp-*"))


def test_inline_text_not_escaped_for_csv_and_encoding(tmp_path):
    o = TemplateSinkOptions.model_validate({
        "format": "template", "path": "feed/{stem}.xml.txt", "encoding": "cp1252",
        "text": "{% for r in records %}{{ r.sku }};{{ r.title }};{{ r.price }}\n{% endfor %}"})
    ctx = SinkContext(base=tmp_path, vars={"stem": "x", "name": "x.csv", "profile": "p"},
                      outbox=Outbox())
    sink = TemplateSink(o)
    sink.start(ctx)
    for b in batches():
        sink.write(b)
    sink.finish()
    ctx.outbox.publish()
    out = (tmp_path / "feed" / "x.xml.txt").read_bytes().decode("cp1252")
    assert out == "A-1;Fish & Chips <hot>;19.90\nA-2;Tè;0.10\nA-3;Plain;1234567.89\n"


def test_include_from_the_template_folder_only(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "head.xml").write_text("<head/>")
    (tmp_path / "secret.txt").write_text("do not read")
    (tmp_path / "t" / "main.xml").write_text('{% include "head.xml" %}<n>{{ count }}</n>')
    assert render(tmp_path, options(tmp_path, template="t/main.xml"), batches()) == \
        "<head/><n>3</n>"
    (tmp_path / "t" / "main.xml").write_text('{% include "../secret.txt" %}')
    with pytest.raises(OutputError, match="template .*main.xml.*secret.txt"):
        render(tmp_path, options(tmp_path, template="t/main.xml"), batches())


def test_sandbox_refuses_unsafe_access(tmp_path):
    o = options(tmp_path, text="ok\n{{ ''.__class__.__mro__ }}")
    with pytest.raises(OutputError, match=r"template <text>, line 2: unsafe, refused: .*__class__"):
        render(tmp_path, o, batches())
    assert not (tmp_path / "feed" / "x.xml").exists()
    o = options(tmp_path, text="{% for r in records %}{{ r.update({'sku': 1}) }}{% endfor %}")
    with pytest.raises(OutputError, match="unsafe, refused"):
        render(tmp_path, o, batches())


def test_undefined_name_is_an_error(tmp_path):
    o = options(tmp_path, text="{% for r in records %}\n{{ r.nope }}{% endfor %}")
    with pytest.raises(OutputError, match="line 2: UndefinedError: .*nope"):
        render(tmp_path, o, batches())


def test_syntax_error_names_file_and_line(tmp_path):
    (tmp_path / "bad.xml.j2").write_text("<a>\n{% for r in records %}\n{{ r.sku }\n</a>\n")
    with pytest.raises(ValidationError) as e:
        options(tmp_path, template="bad.xml.j2")
    msg = str(e.value)
    assert f"template {tmp_path / 'bad.xml.j2'}, line 3" in msg
    with pytest.raises(ValidationError, match="template <text>, line 1"):
        options(tmp_path, text="{% if %}")


def test_exactly_one_source_and_missing_file(tmp_path):
    with pytest.raises(ValidationError, match="exactly one of template"):
        options(tmp_path, text="x", template="t.j2")
    with pytest.raises(ValidationError, match="exactly one of template"):
        options(tmp_path)
    with pytest.raises(ValidationError, match="cannot be read"):
        options(tmp_path, template="missing.j2")


def test_literal_secret_refused(tmp_path):
    with pytest.raises(ValidationError, match="literal secret is refused"):
        options(tmp_path, text="x", secrets={"token": "abc123"})


def test_runtime_errors_and_secret_gone_at_render_time(tmp_path, monkeypatch):
    with pytest.raises(OutputError, match="template <text>, line 2: ZeroDivisionError"):
        render(tmp_path, options(tmp_path, text="a\n{{ 1 / 0 }}"), batches())
    monkeypatch.setenv("FEED_TOKEN", "abc")
    o = options(tmp_path, text="{{ secrets.token }}", secrets={"token": "${FEED_TOKEN}"})
    monkeypatch.delenv("FEED_TOKEN")
    with pytest.raises(OutputError, match=r"secret token \(\$\{FEED_TOKEN\}\): environment "
                                         "variable FEED_TOKEN is not set"):
        render(tmp_path, o, batches())


def test_batches_typed_differently_keep_their_order(tmp_path):
    later = Batch.from_pydict({"sku": ["B-1"], "title": [None]}, [9])  # title: null type
    first = Batch.from_pydict({"sku": ["A-1"], "title": ["x"]}, [1])
    o = options(tmp_path, text="{% for r in records %}{{ r.sku }}={{ r.title }};{% endfor %}")
    assert render(tmp_path, o, [first, later, first]) == "A-1=x;B-1=;A-1=x;"
