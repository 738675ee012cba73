"""Orders dropped as a file, to the ERP as whole documents (issue 16, "and from order
files"): the sample profile profiles/ordini-documenti-erp.yaml on its sample file,
the documents file read record by record, a resent file making no new document, a
changed order a change and a cancelled one a cancel, bad orders rejected whole with
their line and field, and the ack's counts adding up."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from filebridge.job import Job
from filebridge.ledger.documents import DocumentRows
from filebridge.orders.doc_rows import Refused, Row, document
from filebridge.profile import load_profile
from filebridge.runner import run_files
from filebridge.stock.spec import StockSpec

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "ordini-documenti" / "ORDINI_DOC_20261127_1230.csv"
PEOPLE = ("Maria Rossi", "maria.rossi@example.com", "Via Roma 1", "Luca Bianchi",
          "Paolo Neri", "Sara Gialli", "Marco Blu", "Anna Verdi")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("FILEBRIDGE_LEDGER", raising=False)
    (tmp_path / "profiles").mkdir()
    shutil.copy(REPO / "profiles" / "ordini-documenti-erp.yaml", tmp_path / "profiles")
    return tmp_path


def drop(work: Path, name: str, data: bytes
         ) -> tuple[str, dict[str, str], list[dict[str, str]], list[Path]]:
    """Run the sample profile on ``data`` named ``name``: its status, ack row, rejects
    and outputs."""
    job = Job(load_profile(work / "profiles" / "ordini-documenti-erp.yaml"))
    try:
        inbox = job.profile.source.path
        inbox.mkdir(parents=True, exist_ok=True)
        (inbox / name).write_bytes(data)
        [outcome] = run_files(job, [inbox / name])
    finally:
        job.ledger.close()
    stem = name.rsplit(".", 1)[0]
    fb = work / "feedback" / "ordini-documenti"
    with open(fb / f"{stem}.ack.csv", encoding="utf-8", newline="") as f:
        [ack] = list(csv.DictReader(f, delimiter=";"))
    rejects_path = fb / f"{stem}.rejects.csv"
    rejects = []
    if rejects_path.exists():
        with open(rejects_path, encoding="utf-8", newline="") as f:
            rejects = list(csv.DictReader(f, delimiter=";"))
    return outcome.status, ack, rejects, [Path(p).resolve() for p in outcome.outputs]


def doc_files(work: Path) -> list[Path]:
    return sorted((work / "outbox" / "erp").glob("ORDFILE*.TXT"))


def records(path: Path) -> list[str]:
    data = path.read_bytes()
    assert data.endswith(b"\r\n")
    return data.decode("cp1252").split("\r\n")[:-1]


def cents(amount: str) -> str:
    return f"{round(Decimal(amount) * 100)}"


def head(seq: int, kind: str, version: int, number: str, payment: str, name: str,
         email: str, street: str, zip_: str, city: str, goods: str, shipping: str,
         discount: str, vat: str, total: str) -> str:
    return ("H" + f"{seq:06d}" + kind + f"{version:03d}" + number.ljust(12) + "20261127"
            + "EUR" + payment[:15].ljust(15) + name.ljust(30) + email.ljust(40) + street.ljust(30)
            + zip_.ljust(8) + city.ljust(20) + "IT" + cents(goods).zfill(11)
            + cents(shipping).zfill(9) + cents(discount).zfill(9) + cents(vat).zfill(9)
            + cents(total).zfill(11))


def line(seq: int, number: str, no: int, sku: str, qty: int, price: str, discount: str,
         vat: str, net: str) -> str:
    return ("L" + f"{seq:06d}" + number.ljust(12) + f"{no:03d}" + sku.ljust(15)
            + f"{qty:05d}" + cents(price).zfill(9) + cents(discount).zfill(9) + "02200"
            + cents(vat).zfill(9) + cents(net).zfill(11))


def w2001(seq: int, kind: str = "N", version: int = 1, total: str = "34.65",
          b2_price: str = "5.50", b2_vat: str = "1.21", vat: str = "6.25",
          goods: str = "23.50") -> list[str]:
    return [head(seq, kind, version, "W2001", "Bonifico bancario", "Maria Rossi",
                 "maria.rossi@example.com", "Via Roma 1", "20121", "Milano", goods, "4.90",
                 "2.00", vat, total),
            line(seq, "W2001", 1, "A-1", 2, "10.00", "2.00", "3.96", "18.00"),
            line(seq, "W2001", 2, "B-2", 1, b2_price, "0", b2_vat, b2_price)]


def trailer(seq: int, documents: int, lines: int, goods: str, vat: str, total: str) -> str:
    return ("T" + f"{seq:06d}" + f"{documents:06d}" + f"{lines:07d}"
            + f"{documents + lines + 1:07d}" + cents(goods).zfill(13) + cents(vat).zfill(11)
            + cents(total).zfill(13))


def test_the_sample_orders_file_becomes_a_documents_file(work: Path,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    caplog.set_level(logging.DEBUG)
    status, ack, rejects, outputs = drop(work, SAMPLE.name, SAMPLE.read_bytes())
    assert status == "done"
    # 8 rows: W2001 (2) and W2002 (1) documents, W2003 first seen cancelled (no
    # document: the ERP never had it), W2004 (2 rows: lines 18.30, total 99.00), a row
    # without order number and W2005 (PREZZO "12,5x") rejected.
    counts = {k: int(ack[k]) for k in ("read", "sent", "unchanged", "rejected", "skipped")}
    assert counts == {"read": 8, "sent": 3, "unchanged": 1, "rejected": 4, "skipped": 0}
    assert ack["documents"] == "2"
    why = {(int(r["line"]), r["field"]): r["reason"] for r in rejects}
    assert set(why) == {(6, "total"), (7, "total"), (8, "order"), (9, "price")}
    assert why[6, "total"] == ("order W2004 not taken: order W2004: the lines 15.00 + "
                               "shipping 0 + VAT 3.30 do not make the total 99.00")
    assert why[7, "total"].startswith("order W2004 not taken: line 6: order W2004:")
    assert why[9, "price"] == "order W2005 not taken: '12,5x' is not an amount"
    # The rejected rows' values stay for the ERP's people, their personal data do not.
    held = {int(r["line"]): json.loads(r["record"]) for r in rejects}
    assert held[9]["PREZZO"] == "12,5x" and held[9]["ORDINE"] == "W2005"
    assert held[8]["CLIENTE"] == held[9]["EMAIL"] == held[6]["VIA"] == "(personal data)"
    assert not any(p in r["record"] for r in rejects for p in PEOPLE)
    [path] = doc_files(work)
    assert path.name == "ORDFILE000001.TXT"
    assert path.resolve() in outputs  # published with the file's ack and rejects
    assert records(path) == [
        *w2001(1),
        head(1, "N", 1, "W2002", "PayPal", "Luca Bianchi", "luca.bianchi@example.com",
             "Corso Como 5", "20154", "Milano", "49.00", "0", "0", "10.78", "59.78"),
        line(1, "W2002", 1, "C-3", 1, "49.00", "0", "10.78", "49.00"),
        trailer(1, 2, 3, "72.50", "17.03", "94.43")]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for person in PEOPLE:  # nobody's name, e-mail or street is logged

        assert person not in logged


def test_a_resent_file_makes_no_document_and_a_changed_order_a_change(work: Path) -> None:
    data = SAMPLE.read_bytes()
    drop(work, SAMPLE.name, data)
    status, ack, _, _ = drop(work, "ORDINI_DOC_20261127_1300.csv", data.replace(b"\r\n", b"\n"))
    assert status == "done" and ack["documents"] == "0"  # the same orders, other bytes
    assert [p.name for p in doc_files(work)] == ["ORDFILE000001.TXT"]
    # W2001's B-2 now costs 6.00: a change (V, version 2) with the new total; W2002
    # cancelled: a cancel (A); W2003 still cancelled: nothing.
    text = data.decode("cp1252")
    old = "6.25;34.65;2;B-2;1;5.50;"
    changed = (text.replace("6.25;34.65;", "6.36;35.26;")
               .replace("6.36;35.26;2;B-2;1;5.50;", "6.36;35.26;2;B-2;1;6.00;")
               .replace("completed;Luca", "cancelled;Luca"))
    assert old in text and "6.36;35.26;2;B-2;1;6.00;" in changed
    status, ack, _, _ = drop(work, "ORDINI_DOC_20261127_1400.csv", changed.encode("cp1252"))
    assert status == "done" and ack["documents"] == "2"
    [_, second] = doc_files(work)
    assert second.name == "ORDFILE000002.TXT"
    assert records(second) == [
        *w2001(2, "V", 2, total="35.26", b2_price="6.00", b2_vat="1.32", vat="6.36",
               goods="24.00"),
        head(2, "A", 2, "W2002", "PayPal", "Luca Bianchi", "luca.bianchi@example.com",
             "Corso Como 5", "20154", "Milano", "49.00", "0", "0", "10.78", "59.78"),
        line(2, "W2002", 1, "C-3", 1, "49.00", "0", "10.78", "49.00"),
        trailer(2, 2, 3, "73.00", "17.14", "95.04")]
    job = Job(load_profile(work / "profiles" / "ordini-documenti-erp.yaml"))
    try:
        counts = DocumentRows(job.ledger, "moda-documenti").counts()
    finally:
        job.ledger.close()
    assert counts["documents_awaiting_ack"] == 4 and counts["documents_to_erp"] == 0


def test_an_order_whose_rows_are_apart_is_rejected_whole(work: Path) -> None:
    lines = SAMPLE.read_bytes().split(b"\r\n")
    # W2001's second row after W2002: two halves of one order would be two versions.
    apart = b"\r\n".join([lines[0], lines[1], lines[3], lines[2], b""])
    status, ack, rejects, _ = drop(work, "ORDINI_DOC_20261127_1500.csv", apart)
    assert status == "done"
    # Its first half alone does not make its total either.
    why = {(int(r["line"]), r["field"]): r["reason"] for r in rejects}
    assert set(why) == {(2, "total"), (4, "order")}
    assert why[4, "order"] == ("order W2001 is apart from its rows from line 2 on: an "
                               "order's rows must follow each other")
    assert ack["documents"] == "1" and int(ack["rejected"]) == 2


def _spec(**fields: object) -> StockSpec:
    return StockSpec.model_validate({
        "role": "orders", "quantity": "qty", "line": "line", "status": "status",
        "documents": {"path": "D{seq}.csv"}, "document_fields": fields})


def _rows(*recs: dict[str, object]) -> list[Row]:
    return [Row(i, {"order": "W9", "status": "processing", "line": str(i), **r}, 1.0e9, None)
            for i, r in enumerate(recs, start=2)]


def test_prices_with_vat_included_come_out_net_and_add_up() -> None:
    spec = _spec(header={"total": "total"}, line={"unit_price": "price", "vat_rate": "rate"},
                 vat_included=True)
    fields = spec.document_fields
    assert fields is not None
    # 2 x 12.20 gross at 22%: 20.00 net + 4.40 VAT = the stated 24.40
    doc = document(spec, fields, _rows({"sku": "A", "qty": 2, "price": "12.20", "rate": "22",
                                        "total": "24.40"}))
    assert (doc.goods, doc.vat, doc.total, doc.lines[0].vat) == (
        Decimal("20.00"), Decimal("4.40"), Decimal("24.40"), Decimal("4.40"))
    assert doc.balanced() and not doc.cancelled and doc.number == "W9"


@pytest.mark.parametrize(("recs", "where"), [
    ([{"sku": "A", "qty": 1, "price": "NaN", "rate": "0", "total": "1"}], (2, "price")),
    ([{"sku": "A", "qty": 1, "price": "5", "rate": "0", "total": "1e400x"}], (2, "total")),
    # a stated total of 0 is a total, not "no total": the lines do not make it
    ([{"sku": "A", "qty": 1, "price": "5", "rate": "0", "total": "0"}], (2, "total")),
    ([{"sku": "A", "qty": 1, "price": "5", "rate": "0", "total": "5"},
      {"sku": "B", "qty": "due", "price": "5", "rate": "0", "total": "5"}], (3, "qty")),
])
def test_an_order_that_cannot_be_a_document_names_its_line_and_field(
        recs: list[dict[str, object]], where: tuple[int, str]) -> None:
    spec = _spec(header={"total": "total"}, line={"unit_price": "price", "vat_rate": "rate"})
    fields = spec.document_fields
    assert fields is not None
    with pytest.raises(Refused) as e:
        document(spec, fields, _rows(*recs))
    assert (e.value.line, e.value.field) == where


def test_document_fields_need_an_orders_profile_with_documents() -> None:
    with pytest.raises(ValueError, match="document_fields: for a profile with role: orders"):
        StockSpec.model_validate({"role": "orders", "document_fields": {}})
    with pytest.raises(ValueError, match="unknown field 'iva'"):
        _spec(header={"iva": "IVA"})
