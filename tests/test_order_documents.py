"""Orders to the ERP as whole documents (issue 16): pulled from the loopback shops with
the sample profile's fixed-width layout (profiles/shops/ordini-documenti-shopify-api.yaml),
each version once, a change / cancellation / refund as its own document, the ERP's
acknowledgements closing them, personal data never in a log or ``status`` and
dropped from the ledger once acknowledged."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pytest
from click.testing import CliRunner
from conftest import write_profile
from ruamel.yaml import YAML
from shops.magento import TOKEN as MAGENTO_TOKEN
from shops.magento import MagentoServer
from shops.shopify import TOKEN, ShopifyServer
from shops.woocommerce import WooServer

from filebridge.cli import main
from filebridge.job import Job
from filebridge.ledger.documents import DocumentRows
from filebridge.profile import load_profile
from filebridge.runner import run_files
from filebridge.stock.jobs import document_writer

SAMPLE = Path(__file__).parent.parent / "profiles" / "shops" / "ordini-documenti-shopify-api.yaml"
T0 = datetime.fromisoformat("2026-11-27T09:30:00+00:00").timestamp()  # 10:30 in Rome
LINES = [("A-1", 2, "10.00", "2.00", "22"), ("B-2", 1, "5.50", "0", "22")]
PEOPLE = ("Maria", "Rossi", "maria.rossi@example.com", "333 1234567", "Via Roma",
          "Corso Como", "20121")


def sample_layout() -> dict[str, Any]:
    doc = YAML(typ="safe").load(SAMPLE.read_text(encoding="utf-8"))
    return dict(doc["stock"]["documents"])


class Shop(Protocol):
    """One loopback shop as these tests drive it."""

    name: str
    sink: dict[str, Any]

    def place(self) -> str: ...
    def move(self, order: str, at: float) -> None: ...
    def cancel(self, order: str, at: float) -> None: ...
    def refund_b(self, order: str, at: float) -> None: ...
    def number(self, order: str) -> str: ...
    payment: str


class Woo(Shop):
    name, payment = "woo", "Bonifico bancario"

    def __init__(self, server: WooServer):
        self.server = server
        self.sink = {"id": "woo", "format": "woocommerce_api", "url": server.url,
                     "sync": "stock", "consumer_key": "${WOO_KEY}",
                     "consumer_secret": "${WOO_SECRET}", "limits": {"max_backoff": 0.05}}

    def place(self) -> str:
        return str(self.server.add_order(
            LINES, created=T0, shipping="4.90", shipping_vat_rate="22",
            billing={"first_name": "Maria", "last_name": "Rossi",
                     "email": "maria.rossi@example.com", "phone": "+39 333 1234567",
                     "address_1": "Via Roma 1", "postcode": "20121", "city": "Milano",
                     "country": "IT"},
            shipping_address={"first_name": "Maria", "last_name": "Rossi",
                              "address_1": "Via Roma 1", "postcode": "20121",
                              "city": "Milano", "country": "IT"},
            payment_method="bacs", payment_method_title="Bonifico bancario"))

    def move(self, order: str, at: float) -> None:
        self.server.update_shipping(int(order), {"address_1": "Corso Como 5"}, at)

    def cancel(self, order: str, at: float) -> None:
        self.server.set_status(int(order), "cancelled", at)

    def refund_b(self, order: str, at: float) -> None:
        self.server.refund(int(order), {"B-2": 1}, at)

    def number(self, order: str) -> str:
        return order  # WooCommerce's number is its id


class Shopify(Shop):
    name, payment = "shopify", "manual"

    def __init__(self, server: ShopifyServer):
        self.server = server
        self.sink = {"id": "shopify", "format": "shopify_api", "url": server.url,
                     "token": "${SHOP_TOKEN}", "sync": "stock",
                     "limits": {"max_backoff": 0.05}}

    def place(self) -> str:
        return self.server.add_order(
            LINES, created=T0, email="maria.rossi@example.com",
            phone="+39 333 1234567", customer="Maria Rossi", shipping="4.90",
            shipping_vat_rate="22", gateways=["manual"],
            bill={"name": "Maria Rossi", "address1": "Via Roma 1", "zip": "20121",
                  "city": "Milano", "countryCodeV2": "IT", "phone": "+39 333 1234567"},
            ship={"name": "Maria Rossi", "address1": "Via Roma 1", "zip": "20121",
                  "city": "Milano", "countryCodeV2": "IT"})

    def move(self, order: str, at: float) -> None:
        self.server.update_address(order, {"name": "Maria Rossi", "address1": "Corso Como 5",
                                           "zip": "20121", "city": "Milano",
                                           "countryCodeV2": "IT"}, at)

    def cancel(self, order: str, at: float) -> None:
        self.server.cancel(order, at)

    def refund_b(self, order: str, at: float) -> None:
        self.server.refund(order, {"B-2": 1}, at, restock_type="RETURN")

    def number(self, order: str) -> str:
        return "#" + order.rsplit("/", 1)[-1]  # the loopback names orders #<id>


class Magento(Shop):
    name, payment = "magento", "checkmo"

    def __init__(self, server: MagentoServer):
        self.server = server
        self.sink = {"id": "magento", "format": "magento_api", "url": server.url,
                     "token": "${MAG_TOKEN}", "sync": "stock", "limits": {"max_backoff": 0.05}}

    def place(self) -> str:
        who = {"firstname": "Maria", "lastname": "Rossi", "street": ["Via Roma 1"],
               "postcode": "20121", "city": "Milano", "country_id": "IT",
               "telephone": "+39 333 1234567"}
        return str(self.server.add_order(
            [(sku, qty) for sku, qty, *_ in LINES], T0,
            prices={sku: (rest[0], rest[1], rest[2]) for sku, _, *rest in LINES},
            billing=who | {"email": "maria.rossi@example.com"}, shipping_address=who,
            shipping="4.90", shipping_vat_rate="22", payment="checkmo"))

    def move(self, order: str, at: float) -> None:
        self.server.set_shipping_address(int(order), {
            "firstname": "Maria", "lastname": "Rossi", "street": ["Corso Como 5"],
            "postcode": "20121", "city": "Milano", "country_id": "IT"}, at)

    def cancel(self, order: str, at: float) -> None:
        self.server.cancel(int(order), at)

    def refund_b(self, order: str, at: float) -> None:
        # Magento refunds invoiced units only: B-2 is invoiced first (no new version:
        # an invoice changes nothing a document says).
        self.server.invoice(int(order), {"B-2": 1}, at - 1)
        self.server.refund(int(order), {"B-2": 1}, at)

    def number(self, order: str) -> str:
        return f"{int(order):09d}"  # the increment id


@pytest.fixture(params=["woocommerce", "shopify", "magento"])
def shop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    monkeypatch.setenv("WOO_KEY", "ck_d")
    monkeypatch.setenv("WOO_SECRET", "cs_d")
    monkeypatch.setenv("SHOP_TOKEN", TOKEN)
    monkeypatch.setenv("MAG_TOKEN", MAGENTO_TOKEN)
    if request.param == "magento":
        with MagentoServer() as m:
            yield Magento(m)
    elif request.param == "woocommerce":
        with WooServer(key="ck_d", secret="cs_d") as w:
            yield Woo(w)
    else:
        with ShopifyServer() as s:
            yield Shopify(s)


def profiles(workdir: Path, shop: Shop, **documents: Any) -> tuple[Path, Path]:
    layout = sample_layout() | {"path": "../outbox/ORD{seq:06d}.TXT"} | documents
    erp = write_profile(workdir, {
        "name": "erp", "source": {"kind": "local", "path": "../inbox/erp",
                                  "pattern": ["*.csv"], "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";", "fields": {"QTY": {"type": "integer"}}},
        "map": {"key": "sku"},
        "stock": {"inventory": "docs", "sku": "SKU", "quantity": "QTY",
                  "documents": layout},
        "write": [shop.sink], "feedback": {"timezone": "Europe/Rome"},
        "ledger": "../ledger.db"}, "erp.yaml")
    acks = write_profile(workdir, {
        "name": "erp-acks", "source": {"kind": "local", "path": "../inbox/acks",
                                       "pattern": ["*.csv"], "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";", "fields": {"NUMERO": {"type": "integer"}}},
        "stock": {"inventory": "docs", "role": "acks", "acks_of": "documents", "ack": "NUMERO"},
        "write": [], "ledger": "../ledger.db"}, "acks.yaml")
    (workdir / "inbox" / "acks").mkdir(parents=True)
    return erp, acks


def pull_and_write(erp: Path) -> list[tuple[int, Path, int]]:
    job = Job(load_profile(erp))
    try:
        job.pull_orders(push=False)
        return document_writer(job).write()
    finally:
        job.ledger.close()


# -- the expected records, field by field as the sample layout places them ----------


def header(seq: int, kind: str, version: int, number: str, payment: str,
           street: str = "Via Roma 1", refunded: str = "0", discount: str = "000000200") -> str:
    cents = f"{round(Decimal(refunded) * 100):011d}"
    return ("H" + f"{seq:06d}" + kind + f"{version:03d}" + number.ljust(12) + "20261127"
            + "EUR" + payment[:15].ljust(15) + "Maria Rossi".ljust(30)
            + "maria.rossi@example.com".ljust(40) + street.ljust(30) + "20121   "
            + "Milano".ljust(20) + "IT"
            + "00000002350"  # goods: 18.00 + 5.50
            + "000000490"  # shipping 4.90
            + discount  # 2.00
            + "000000625"  # VAT: 3.96 + 1.21 + 1.08 on the shipping
            + "00000003465"  # total 34.65
            + cents)


def lines(seq: int, number: str, refunded_b: int = 0) -> list[str]:
    n = number.ljust(12)
    return ["L" + f"{seq:06d}" + n + "001" + "A-1".ljust(15) + "00002" + "00000"
            + "000001000" + "000000200" + "02200" + "000000396" + "00000001800",
            "L" + f"{seq:06d}" + n + "002" + "B-2".ljust(15) + "00001" + f"{refunded_b:05d}"
            + "000000550" + "000000000" + "02200" + "000000121" + "00000000550"]


def trailer(seq: int, docs: int) -> str:
    return ("T" + f"{seq:06d}" + f"{docs:06d}" + f"{2 * docs:07d}" + f"{3 * docs + 1:07d}"
            + f"{2350 * docs:013d}" + f"{625 * docs:011d}" + f"{3465 * docs:013d}")


def records(path: Path) -> list[str]:
    data = path.read_bytes()
    assert data.endswith(b"\r\n")
    return data.decode("cp1252").split("\r\n")[:-1]


def control_totals_match(recs: list[str]) -> None:
    """The trailer's counts and sums are those of the records above it."""
    heads = [r for r in recs if r[0] == "H"]
    body = [r for r in recs if r[0] == "L"]
    (t,) = [r for r in recs if r[0] == "T"]
    assert recs[-1] == t
    assert int(t[7:13]) == len(heads) and int(t[13:20]) == len(body)
    assert int(t[20:27]) == len(recs)
    assert int(t[27:40]) == sum(int(h[179:190]) for h in heads)  # goods
    assert int(t[40:51]) == sum(int(h[208:217]) for h in heads)  # VAT
    assert int(t[51:64]) == sum(int(h[217:228]) for h in heads)  # total
    for h in heads:  # each document adds up: goods + shipping + VAT = total
        assert int(h[179:190]) + int(h[190:199]) + int(h[208:217]) == int(h[217:228])
        mine = [r for r in body if r[7:19] == h[11:23]]
        assert sum(int(r[79:90]) for r in mine) == int(h[179:190])  # Σ line net = goods


def test_each_shop_s_orders_become_documents_once_per_version(workdir: Path, shop: Shop,
                                                               caplog: pytest.LogCaptureFixture
                                                               ) -> None:
    caplog.set_level(logging.DEBUG)
    erp, _ = profiles(workdir, shop)
    order = shop.place()
    number = shop.number(order)

    [(seq, path, n)] = pull_and_write(erp)
    assert (seq, n, path.name) == (1, 1, "ORD000001.TXT")
    recs = records(path)
    assert recs == [header(1, "N", 1, number, shop.payment), *lines(1, number), trailer(1, 1)]
    control_totals_match(recs)

    assert pull_and_write(erp) == []  # unchanged: no document, no file

    shop.move(order, T0 + 600)  # the shipping address corrected: a change
    [(seq, path, n)] = pull_and_write(erp)
    assert records(path) == [header(2, "V", 2, number, shop.payment, street="Corso Como 5"),
                             *lines(2, number), trailer(2, 1)]

    shop.refund_b(order, T0 + 1200)  # one B-2 returned: 5.50 + 22% VAT given back
    [(seq, path, n)] = pull_and_write(erp)
    assert records(path) == [header(3, "R", 3, number, shop.payment, street="Corso Como 5",
                                    refunded="6.71"),
                             *lines(3, number, refunded_b=1), trailer(3, 1)]
    control_totals_match(records(path))

    shop.cancel(order, T0 + 1800)
    [(seq, path, n)] = pull_and_write(erp)
    assert records(path)[0][:11] == "H000004A004"
    assert pull_and_write(erp) == []
    assert not any(p in caplog.text for p in PEOPLE), caplog.text


def test_a_cancelled_order_and_a_new_one_share_a_file_with_the_sums_of_both(
        workdir: Path, shop: Shop) -> None:
    erp, _ = profiles(workdir, shop)
    first = shop.place()
    pull_and_write(erp)
    shop.cancel(first, T0 + 60)
    second = shop.place()
    [(_, path, n)] = pull_and_write(erp)
    recs = records(path)
    # In the order the shop changed them: the new one (placed at T0) before the cancel.
    heads = [r for r in recs if r[0] == "H"]
    assert n == 2 and [r[:11] for r in heads] == ["H000002N001", "H000002A002"]
    assert [r[11:23].strip() for r in heads] == [shop.number(second), shop.number(first)]
    assert recs[-1] == trailer(2, 2)
    control_totals_match(recs)


@pytest.mark.parametrize("drop", [True, False])
def test_acks_close_documents_and_drop_personal_data_when_asked(
        workdir: Path, shop: Shop, drop: bool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    erp, acks = profiles(workdir, shop, drop_personal=drop)
    shop.place()
    pull_and_write(erp)
    ledger = workdir / "ledger.db"

    out = CliRunner().invoke(main, ["status", "--ledger", str(ledger)])
    assert "documents_awaiting_ack=1" in out.output, out.output
    assert not any(p in out.output for p in PEOPLE)

    (workdir / "inbox" / "acks" / "ACKORD1.csv").write_text("NUMERO\n1\n7\n", encoding="utf-8")
    job = Job(load_profile(acks))
    try:
        [outcome] = run_files(job, [])
    finally:
        job.ledger.close()
    assert outcome.status == "done", outcome

    out = CliRunner().invoke(main, ["status", "--ledger", str(ledger)])
    assert "documents_acknowledged=1" in out.output, out.output
    assert f"documents_with_personal_data={0 if drop else 1}" in out.output
    with sqlite3.connect(ledger) as db:
        kept = db.execute("SELECT personal, body, acked FROM order_documents").fetchall()
    assert len(kept) == 1 and kept[0][2] is not None
    assert ("Maria Rossi" in (kept[0][0] or "")) is not drop
    assert "Maria" not in kept[0][1]  # the body never holds them
    assert not any(p in caplog.text for p in PEOPLE), caplog.text
    # Acknowledged documents are not written again; file 7 was never made: nothing.
    assert pull_and_write(erp) == []


def test_a_document_file_rewritten_while_pending_says_the_same(workdir: Path, shop: Shop
                                                               ) -> None:
    """Exactly once: a file recorded as pending (crash before publishing) is written
    again with the same number and bytes, and no second file is made."""
    erp, _ = profiles(workdir, shop)
    shop.place()
    [(_, path, _)] = pull_and_write(erp)
    first = path.read_bytes()
    with sqlite3.connect(workdir / "ledger.db") as db:
        db.execute("UPDATE document_files SET status='pending'")
    path.unlink()
    [(seq, again, n)] = pull_and_write(erp)
    assert (seq, again, n) == (1, path, 1) and again.read_bytes() == first


def test_csv_documents_one_row_per_line_with_the_header_repeated(workdir: Path, shop: Shop
                                                                 ) -> None:
    erp, _ = profiles(workdir, shop, format="csv", path="../outbox/ORD{seq:06d}.csv",
                      encoding="utf-8", header=None, line=None, trailer=None)
    order = shop.place()
    number = shop.number(order)
    [(_, path, _)] = pull_and_write(erp)
    common = (f"1;N;1;{number};2026-11-27;EUR;{shop.payment};Maria Rossi;"
              "maria.rossi@example.com;Maria Rossi;Via Roma 1;20121;Milano;IT")
    assert path.read_text(encoding="utf-8").splitlines() == [
        ("seq;kind;version;number;date;currency;payment;customer_name;customer_email;"
         "ship_name;ship_street;ship_zip;ship_city;ship_country;line_no;sku;qty;unit_price;"
         "line_discount;vat_rate;line_vat;line_net;shipping;vat;total"),
        common + ";1;A-1;2;10.00;2.00;22;3.96;18.00;4.90;6.25;34.65",
        common + ";2;B-2;1;5.50;0.00;22;1.21;5.50;4.90;6.25;34.65"]


@pytest.mark.parametrize(("documents", "error"), [
    ({"trailer": None}, "format: fixed needs trailer"),
    ({"header": {"seq": {"start": 1, "length": 6, "type": "integer"}}},
     "header needs the field record"),
    ({"line": {"record": {"start": 1, "length": 1}, "colour": {"start": 2, "length": 3}}},
     "unknown line field 'colour'"),
    ({"path": "../outbox/ORD.TXT"}, "needs {seq}"),
    ({"kinds": {"return": "R"}}, "kinds: unknown kind 'return'"),
    ({"format": "xml"}, "format: xml needs template"),
])
def test_document_layout_errors_name_the_problem(documents: dict[str, Any], error: str) -> None:
    from pydantic import ValidationError

    from filebridge.orders.doc_files import DocumentFiles

    with pytest.raises(ValidationError, match=re.escape(error)):
        DocumentFiles.model_validate(sample_layout() | documents)


def test_xml_documents_through_the_sample_template(workdir: Path, shop: Shop) -> None:
    import xml.etree.ElementTree as ET

    template = Path(__file__).parent.parent / "profiles" / "templates" / "ordini.xml.j2"
    erp, _ = profiles(workdir, shop, format="xml", path="../outbox/ORD{seq:06d}.xml",
                      template=str(template), encoding="utf-8", kinds={})
    order = shop.place()
    [(_, path, _)] = pull_and_write(erp)
    root = ET.fromstring(path.read_bytes())
    [o] = root.findall("Order")
    assert (root.get("seq"), o.get("kind"), o.findtext("Number")) == ("1", "order",
                                                                       shop.number(order))
    assert o.findtext("Customer/Name") == "Maria Rossi"
    lines = [(ln.findtext("Sku"), ln.findtext("Qty"), ln.findtext("Net"))
             for ln in o.findall("Lines/Line")]
    assert lines == [("A-1", "2", "18.00"), ("B-2", "1", "5.50")]
    t = o.find("Totals")
    assert t is not None and (t.get("goods"), t.get("vat"), t.get("total")) == (
        "23.50", "6.25", "34.65")
    c = root.find("Control")
    assert c is not None and (c.get("documents"), c.get("lines"), c.get("total")) == (
        "1", "2", "34.65")


def test_check_says_where_documents_go_and_feedback_writes_them(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOO_KEY", "ck_d")
    monkeypatch.setenv("WOO_SECRET", "cs_d")
    monkeypatch.chdir(workdir)
    with WooServer(key="ck_d", secret="cs_d") as w:
        shop = Woo(w)
        erp, _ = profiles(workdir, shop)
        out = CliRunner().invoke(main, ["check", str(erp)])
        assert ("order documents for the ERP (fixed): "
                f"{workdir / 'outbox' / 'ORD{seq:06d}.TXT'}") in out.output, out.output
        assert "filebridge feedback writes only the order documents" in out.output
        # The ERP's figures first: the pull pushes the new availability to the shop.
        for sku in ("A-1", "B-2"):
            w.shop.create({"sku": sku, "name": sku, "manage_stock": True,
                           "stock_quantity": 0})
        (workdir / "inbox" / "erp").mkdir()
        (workdir / "inbox" / "erp" / "GIAC.csv").write_text("SKU;QTY\nA-1;5\nB-2;3\n")
        out = CliRunner().invoke(main, ["run", str(erp)])
        assert out.exit_code == 0, out.output
        shop.place()
        out = CliRunner().invoke(main, ["feedback", str(erp)])
        assert out.exit_code == 0, out.output
        assert f"documents file 1: 1 order documents -> {workdir / 'outbox' / 'ORD000001.TXT'}" \
            in out.output
        assert not any(p in out.output for p in PEOPLE)


def test_a_backlog_is_written_as_several_files_in_order(workdir: Path, shop: Shop) -> None:
    erp, _ = profiles(workdir, shop, max_documents=2)
    orders = [shop.place() for _ in range(5)]
    written = pull_and_write(erp)
    assert [(seq, n) for seq, _, n in written] == [(1, 2), (2, 2), (3, 1)]
    numbers = [r[11:23].strip() for _, path, _ in written for r in records(path) if r[0] == "H"]
    assert sorted(numbers) == sorted(shop.number(o) for o in orders)
    for _, path, n in written:
        assert records(path)[-1] == trailer(int(path.stem[3:]), n)


def test_digest_and_kind_of_a_version() -> None:
    from dataclasses import replace

    from filebridge.orders.document import DocLine, OrderDoc, Party, digest, kind_of

    line = DocLine("1", "A-1", 2, Decimal("10.0"), Decimal(2), Decimal(22), Decimal("3.96"))
    doc = OrderDoc("9", "#9", T0, "EUR", (line,), customer=Party(name="Maria Rossi"),
                   total=Decimal("21.96"), vat=Decimal("3.96"), changed=T0)
    same = replace(doc, lines=(replace(line, unit_price=Decimal("10.00")),), changed=T0 + 60)
    assert digest(same) == digest(doc)  # 10.0 is 10.00; when it changed is no content
    moved = replace(doc, ship_to=Party(street="Corso Como 5"))
    assert digest(moved) != digest(doc)  # personal data are part of the version
    assert kind_of(None, doc) == "order" and kind_of(doc, moved) == "change"
    assert kind_of(doc, replace(doc, refunded=Decimal(5))) == "refund"
    assert kind_of(doc, replace(doc, cancelled=True, refunded=Decimal(5))) == "cancel"
    assert kind_of(None, replace(doc, cancelled=True)) is None  # the ERP never had it
    assert "Maria" not in repr(doc) and "Maria" not in repr(doc.customer)
    assert OrderDoc.from_body(doc.body(), doc.personal()) == doc
    assert "Maria" not in str(doc.body())


def test_shopify_prices_with_vat_included_come_out_net(workdir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A shop whose prices include VAT (Shopify ``taxesIncluded``): the same order, its
    prices 22% higher, makes the same net amounts, VAT and total."""
    monkeypatch.setenv("SHOP_TOKEN", TOKEN)
    with ShopifyServer() as s:
        shop = Shopify(s)
        erp, _ = profiles(workdir, shop)
        order = s.add_order([("A-1", 2, "12.20", "2.44", "22"), ("B-2", 1, "6.71", "0", "22")],
                            created=T0, email="maria.rossi@example.com", customer="Maria Rossi",
                            shipping="5.98", shipping_vat_rate="22", gateways=["manual"],
                            taxes_included=True,
                            ship={"name": "Maria Rossi", "address1": "Via Roma 1",
                                  "zip": "20121", "city": "Milano", "countryCodeV2": "IT"})
        [(_, path, _)] = pull_and_write(erp)
        number = shop.number(order)
        recs = records(path)
        # The discount as the shop totals it: with its VAT, as the prices are.
        assert recs[0] == header(1, "N", 1, number, "manual", discount="000000244")
        assert recs[1:3] == [
            "L000001" + number.ljust(12) + "001" + "A-1".ljust(15) + "00002" + "00000"
            + "000001220" + "000000244" + "02200" + "000000396" + "00000001800",
            "L000001" + number.ljust(12) + "002" + "B-2".ljust(15) + "00001" + "00000"
            + "000000671" + "000000000" + "02200" + "000000121" + "00000000550"]
        control_totals_match(recs)


def test_the_scheduled_pull_writes_documents_before_the_erp_sent_any_figure(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``watch``'s orders job (stock_jobs.on_orders): pull, push what may be sold (nothing
    yet: the ERP sent no figure, an empty push), write the documents file."""
    from filebridge.stock.jobs import on_orders

    monkeypatch.setenv("WOO_KEY", "ck_d")
    monkeypatch.setenv("WOO_SECRET", "cs_d")
    with WooServer(key="ck_d", secret="cs_d") as w:
        shop = Woo(w)
        erp, _ = profiles(workdir, shop)
        order = shop.place()
        job = Job(load_profile(erp))
        try:
            on_orders(job, feedback=False)
        finally:
            job.ledger.close()
        assert records(workdir / "outbox" / "ORD000001.TXT")[0] == header(
            1, "N", 1, shop.number(order), shop.payment)


def test_a_webhook_records_the_order_as_a_document_and_the_pull_adds_nothing(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> None:
    """A WooCommerce order webhook (the REST order as its body, signed) records the
    document at once; the scheduled pull after it finds the same version: no second
    document."""
    import json

    import requests

    from filebridge.webhooks import Webhooks, signature

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("WOO_KEY", "ck_d")
    monkeypatch.setenv("WOO_SECRET", "cs_d")
    monkeypatch.setenv("WOO_HOOKS", "hook-secret")
    with WooServer(key="ck_d", secret="cs_d") as w:
        shop = Woo(w)
        shop.sink["webhook_secret"] = "${WOO_HOOKS}"
        erp, _ = profiles(workdir, shop)
        order = shop.place()
        body = json.dumps(requests.get(f"{w.url}/wp-json/wc/v3/orders/{order}",
                                       auth=("ck_d", "cs_d"), timeout=10).json()).encode()
        job = Job(load_profile(erp))
        hooks = Webhooks([job])
        try:
            out = hooks.handle("erp", "woo", {
                "x-wc-webhook-topic": "order.created",
                "x-wc-webhook-signature": signature("hook-secret", body)}, body)
            assert out.status == 200, out
            assert DocumentRows(job.ledger, "docs").counts()["documents_to_erp"] == 1
        finally:
            hooks.close()
            job.ledger.close()
        [(_, path, n)] = pull_and_write(erp)  # the pull finds it as recorded
        assert n == 1 and records(path)[0] == header(1, "N", 1, order, shop.payment)
        assert pull_and_write(erp) == []
    assert not any(p in caplog.text for p in PEOPLE), caplog.text
