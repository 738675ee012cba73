"""The spool reader on real report files: pages, furniture, groups, edited numbers,
control totals, and the sample report end to end."""

from __future__ import annotations

import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from filebridge.errors import RejectedFile
from filebridge.job import Job
from filebridge.profile import load_profile
from filebridge.readers.spool import SpoolOptions, SpoolReader
from filebridge.records import FileReport
from filebridge.runner import run_files

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "spool" / "GIACENZE_SPOOL_20261127.txt"

REPORTS: list[FileReport] = []


@pytest.fixture(autouse=True)
def _close_reports():
    yield
    while REPORTS:
        REPORTS.pop().close()


# A small report layout: code 1-8, description 10-29, quantity 31-40, amount 42-55.
FIELDS = {"CODE": {"start": 1, "length": 8},
          "DESC": {"start": 10, "length": 20},
          "QTY": {"start": 31, "length": 10, "type": "integer"},
          "AMOUNT": {"start": 42, "length": 14, "type": "decimal", "scale": 2}}
GROUP = {"match": r"Reparto:\s+(?P<REPARTO>\w+)"}
TOTAL = {"match": r"^TOTALE REPARTO\s+(?P<REPARTO>\w+)\s+(?P<QTY>\S+)\s+(?P<AMOUNT>\S+)$",
         "sum": ["QTY", "AMOUNT"]}
SKIP = [r"^Codice\s+Descrizione", r"^[ =-]+$", r"\*\*\* FINE STAMPA \*\*\*", r"^TOTALE"]


def row(code: str, desc: str, qty: str, amount: str) -> str:
    return f"{code:<8} {desc:<20} {qty:>10} {amount:>14}"


def write(tmp_path: Path, lines: list[str], name: str = "r.txt", sep: str = "\r\n") -> Path:
    p = tmp_path / name
    p.write_bytes((sep.join(lines) + sep).encode("cp1252"))
    return p


def read(path: Path, batch: int | None = None, **opts):
    o = SpoolOptions.model_validate({"format": "spool", "fields": FIELDS, **opts})
    reader = SpoolReader(o)
    if batch is not None:
        reader.BATCH = batch
    report = FileReport(path.name)
    REPORTS.append(report)
    batches = list(reader.read(path, report))
    rows = [r for b in batches for r in b.rows()]
    lines = [n for b in batches for n in b.lines.to_pylist()]
    return rows, lines, report


def header(page: int, cc: bool = True) -> list[str]:
    c = ("1", " ") if cc else ("", "")
    return [c[0] + f"{'DITTA PROVA SRL':<40}PAG. {page:>4}",
            c[1] + f"{'ELENCO VENDITE':<40}DATA 27/11/26"]


def test_fcfc_page_headers_overprint_and_furniture_are_dropped(tmp_path):
    lines = [*header(1),
             "+" + f"{'ELENCO VENDITE':<40}",        # bold by overprint: not a header line
             "0Codice   Descrizione",
             " " + "-" * 55,
             "0Reparto: DONNA",
             " " + row("A1", "Maglia", "2", "10,00"),
             "+" + row("A1", "Maglia", "2", "10,00"),  # overprinted detail: no second row
             "",
             " " + row("A2", "Gonna", "1", "5,50"),
             *header(2),
             "0Codice   Descrizione",
             " " + "=" * 55,
             " " + row("A3", "Camicia", "3", "7,25"),
             "0TOTALE REPARTO DONNA        6          22,75",
             "0" + " " * 10 + "*** FINE STAMPA ***"]
    rows, numbers, rep = read(write(tmp_path, lines), fcfc=True, page_header_lines=2,
                              groups=[GROUP], skip=SKIP)
    assert [(r["CODE"], r["DESC"], r["QTY"], r["AMOUNT"], r["REPARTO"]) for r in rows] == [
        ("A1", "Maglia", 2, Decimal("10.00"), "DONNA"),
        ("A2", "Gonna", 1, Decimal("5.50"), "DONNA"),
        ("A3", "Camicia", 3, Decimal("7.25"), "DONNA")]
    assert numbers == [7, 10, 15]  # physical lines, blank and dropped ones included
    assert rep.tally.as_dict() == {"read": 3, "sent": 0, "unchanged": 0, "rejected": 0,
                                   "skipped": 0, "queued": 0}


def test_form_feeds_start_pages_alone_or_before_the_first_header_line(tmp_path):
    body = [row("B1", "Tovaglia", "4", "40,00"), row("B2", "Cuscino", "1", "9,90")]
    lines = [*header(1, cc=False), body[0],
             "\f", *header(2, cc=False), body[1],          # FF on a line of its own
             "\f" + header(3, cc=False)[0], header(3, cc=False)[1], body[0]]  # FF + text
    rows, numbers, _ = read(write(tmp_path, lines, sep="\n"), page_header_lines=2)
    assert [r["CODE"] for r in rows] == ["B1", "B2", "B1"]
    assert numbers == [3, 7, 10]


def test_page_header_regex_without_fcfc_or_form_feeds(tmp_path):
    lines = ["", *header(1, cc=False), "Codice   Descrizione", "-" * 55,
             row("C1", "Plaid", "1", "30,00"), row("C2", "Plaid", "2", "60,00"),
             *header(2, cc=False), "Codice   Descrizione", "-" * 55,
             row("C3", "Runner", "5", "12,50")]
    rows, numbers, _ = read(write(tmp_path, lines), page_header=r"(PAG\.?|PAGINA|Page)\s+\d+",
                            page_header_lines=2, skip=SKIP, check_headers=True)
    assert [r["CODE"] for r in rows] == ["C1", "C2", "C3"]
    assert numbers == [6, 7, 12]
    # Without the pattern, page 2's header lines would be read as (bad) detail lines.
    rows, _, rep = read(write(tmp_path, lines), page_header_lines=2, skip=SKIP)
    assert [r["CODE"] for r in rows] == ["C1", "C2", "C3"]
    assert [j.line for j in rep.rejects()] == [8, 9]


def test_check_headers_refuses_a_page_from_another_report(tmp_path):
    other = ["1" + f"{'ALTRA DITTA SPA':<40}PAG.    2",
             " " + f"{'ELENCO VENDITE':<40}DATA 28/11/26"]
    lines = [*header(1), " " + row("A1", "x", "1", "1,00"), *other,
             " " + row("A2", "y", "1", "1,00")]
    path = write(tmp_path, lines)
    assert len(read(path, fcfc=True, page_header_lines=2)[0]) == 2  # digits never matter
    with pytest.raises(RejectedFile) as e:
        read(path, fcfc=True, page_header_lines=2, check_headers=True)
    assert e.value.line == 4 and "page 2: header line 1" in e.value.reason


def test_groups_propagate_nest_and_reset_on_page(tmp_path):
    lines = [*header(1),
             "0Negozio: 07 - Verona", "0Reparto: DONNA",
             " " + row("A1", "a", "1", "1,00"),
             "0Reparto: UOMO",
             " " + row("A2", "b", "1", "1,00"),
             "0Negozio: 09 - Padova",        # a new outer group clears the inner one
             " " + row("A3", "c", "1", "1,00"),
             "0Reparto: CASA",
             " " + row("A4", "d", "1", "1,00"),
             *header(2),
             " " + row("A5", "e", "1", "1,00")]
    groups = [{"match": r"Negozio:\s+(?P<NEGOZIO>\d+)\s+-\s+(?P<CITTA>.+)$"},
              {"match": r"Reparto:\s+(?P<REPARTO>\w+)", "reset_on_page": True}]
    rows, _, _ = read(write(tmp_path, lines), fcfc=True, page_header_lines=2, groups=groups)
    assert [(r["NEGOZIO"], r["CITTA"], r["REPARTO"], r["CODE"]) for r in rows] == [
        ("07", "Verona", "DONNA", "A1"), ("07", "Verona", "UOMO", "A2"),
        ("09", "Padova", None, "A3"), ("09", "Padova", "CASA", "A4"),
        ("09", "Padova", None, "A5")]
    assert list(rows[0])[:3] == ["NEGOZIO", "CITTA", "REPARTO"]  # group fields first


def test_edited_numbers_are_exact_decimals(tmp_path):
    cases = [("1.234,56-", "12-", Decimal("-1234.56"), -12),
             ("12,00CR", "3 CR", Decimal("-12.00"), -3),
             ("**1.234,56", "1.234", Decimal("1234.56"), 1234),
             ("0,04", "-7", Decimal("0.04"), -7),
             ("", "", None, None),
             ("12.345.678,90", "5-", Decimal("12345678.90"), -5)]
    lines = [row(f"N{i}", "x", q, a) for i, (a, q, _, _) in enumerate(cases)]
    rows, _, rep = read(write(tmp_path, lines))
    assert [(r["AMOUNT"], r["QTY"]) for r in rows] == [(a, q) for _, _, a, q in cases]
    assert all(type(r["AMOUNT"]) is Decimal for r in rows if r["AMOUNT"] is not None)
    assert rep.tally.rejected == 0


def test_bad_numbers_and_unmatched_lines_are_rejects_with_their_lines(tmp_path):
    lines = [row("A1", "ok", "1", "1,00"), row("A2", "bad", "1", "1,0,0"),
             "Nota: merce in transito", row("A3", "ok", "2", "2,00")]
    rows, numbers, rep = read(write(tmp_path, lines), detail=r"^A\d", unmatched="reject")
    assert numbers == [1, 4]
    assert [(j.line, j.field) for j in rep.rejects()] == [(2, "AMOUNT"), (3, None)]
    assert rep.tally.read == 4 and rep.tally.rejected == 2
    # By default a line that is no detail is report furniture: dropped, not counted.
    rows, numbers, rep = read(write(tmp_path, lines), detail=r"^A\d")
    assert rep.tally.read == 3 and [j.line for j in rep.rejects()] == [2]


def report_with_totals(qty_total: str = "6", amount_total: str = "22,75") -> list[str]:
    return [*header(1),
            "0Reparto: DONNA",
            " " + row("A1", "Maglia", "2", "10,00"),
            " " + row("A2", "Gonna", "1-", "5,50-"),
            " " + row("A3", "Camicia", "5", "18,25"),
            f"0TOTALE REPARTO DONNA {qty_total:>10} {amount_total:>14}",
            "0Reparto: UOMO",
            " " + row("B1", "Giacca", "1.000", "1.000,00"),
            "0TOTALE REPARTO UOMO  {:>10} {:>14}".format("1.000", "1.000,00"),
            f"-TOTALE GENERALE      {'1.006':>10} {'1.022,75':>14}"]


TOTALS = [TOTAL, {"match": r"^TOTALE GENERALE\s+(?P<QTY>\S+)\s+(?P<AMOUNT>\S+)$",
                  "sum": ["QTY", "AMOUNT"]}]


@pytest.mark.parametrize("batch", [None, 1, 2])  # totals hold across batch boundaries
def test_printed_totals_that_match(tmp_path, batch):
    rows, _, rep = read(write(tmp_path, report_with_totals()), batch, fcfc=True,
                        page_header_lines=2, groups=[GROUP], totals=TOTALS)
    assert len(rows) == 4 and rep.tally.rejected == 0


@pytest.mark.parametrize("batch", [None, 1, 2])
def test_a_wrong_printed_total_rejects_the_file(tmp_path, batch):
    path = write(tmp_path, report_with_totals(amount_total="22,70"))
    with pytest.raises(RejectedFile) as e:
        read(path, batch, fcfc=True, page_header_lines=2, groups=[GROUP], totals=TOTALS)
    assert e.value.line == 7
    assert e.value.reason == ("control total AMOUNT for group REPARTO=DONNA: printed 22,70, "
                              "sum of 3 detail lines 22,75")


def test_a_row_rejected_by_typing_makes_its_total_fail(tmp_path):
    lines = report_with_totals()
    lines[4] = " " + row("A2", "Gonna", "1-", "5,5x")
    with pytest.raises(RejectedFile, match=r"QTY for group REPARTO=DONNA: printed 6, sum of "
                                           r"2 detail lines 7"):
        read(write(tmp_path, lines), fcfc=True, page_header_lines=2, groups=[GROUP],
             totals=TOTALS)


def test_detail_lines_after_the_last_total_mean_a_truncated_report(tmp_path):
    lines = report_with_totals()[:-1] + [" " + row("C1", "Plaid", "1", "1,00")]
    with pytest.raises(RejectedFile, match="the last 1 detail lines have no printed total"):
        read(write(tmp_path, lines), fcfc=True, page_header_lines=2, totals=[TOTAL])


def test_198_column_report(tmp_path):
    wide = dict(FIELDS, NOTE={"start": 150, "length": 49},
                PRICE={"start": 120, "length": 12, "type": "decimal", "scale": 3})
    lines = []
    for i, price in enumerate(["1.234,567", "0,125-", ""]):
        text = row(f"W{i}", "Tessuto à pois", "3", "1,00").ljust(119)
        text += f"{price:>12}".ljust(30) + f"nota fine riga {i}".rjust(49)
        assert len(text) == 198
        lines.append(" " + text)
    rows, _, rep = read(write(tmp_path, lines), fields=wide, fcfc=True)
    assert [r["PRICE"] for r in rows] == [Decimal("1234.567"), Decimal("-0.125"), None]
    assert [r["NOTE"] for r in rows] == [" " * 33 + f"nota fine riga {i}" for i in range(3)]
    assert rows[0]["DESC"] == "Tessuto à pois"


def test_unreadable_reports_are_refused(tmp_path):
    with pytest.raises(RejectedFile, match="not an FCFC forms control"):
        read(write(tmp_path, ["X" + row("A1", "a", "1", "1,00")]), fcfc=True)
    with pytest.raises(RejectedFile, match="empty"):
        read(write(tmp_path, ["", "   "]))


def test_a_byte_the_code_page_lacks_rejects_its_line_only(tmp_path):
    """Issue 11 defect 8: one invalid byte used to refuse the whole report."""
    good = [row("A1", "Caff\u00e8", "1", "1,00"), row("A3", "T\u00e8", "3", "3,00")]
    bad = row("A2", "Crema XX", "2", "2,00").encode("cp1252").replace(b"XX", b"\x81\x8d")
    heading = b"Reparto: CASA \x90"
    lines = [b"Reparto: CASA", good[0].encode("cp1252"), bad, heading,
             good[1].encode("cp1252"),
             ("TOTALE REPARTO CASA " + " " * 10 + "4 4,00").encode("cp1252")]
    p = tmp_path / "bad.txt"
    p.write_bytes(b"\r\n".join(lines) + b"\r\n")
    rows, numbers, report = read(p, groups=[GROUP], skip=SKIP)
    assert [r["CODE"] for r in rows] == ["A1", "A3"] and numbers == [2, 5]
    assert rows[0]["DESC"] == "Caff\u00e8"
    t = report.tally
    assert (t.read, t.rejected) == (3, 1)  # every detail line counted
    (rej, warn) = list(report.rejects())
    assert rej.line == 3 and rej.level == "reject"
    assert rej.reason.startswith("bytes b'\\x81\\x8d' are not valid cp1252")
    assert rej.values["text"].startswith("A2       Crema \ufffd\ufffd")
    assert warn.line == 4 and warn.level == "warning" and "not a detail line" in warn.reason


@pytest.mark.parametrize("opts, message", [
    ({"totals": [{"match": r"TOT (?P<DESC>\S+)", "sum": ["DESC"]}]}, "not an integer"),
    ({"totals": [{"match": r"TOT (?P<Q>\S+)", "sum": ["QTY"]}]}, "no named group"),
    ({"groups": [{"match": r"Reparto: \w+"}]}, "needs a named group"),
    ({"groups": [{"match": r"(?P<CODE>\w+)"}]}, "defined twice"),
    ({"skip": ["(unclosed"]}, "invalid regular expression"),
    ({"fields": {"Q": {"start": 1, "length": 4, "type": "integer", "storage": "packed"}}},
     "printed text"),
])
def test_options_are_checked(opts, message):
    with pytest.raises(ValidationError, match=message):
        SpoolOptions.model_validate({"format": "spool", "fields": FIELDS, **opts})


# ------------------------------------------------------------------ the sample report

def sample_options() -> SpoolOptions:
    profile = load_profile(REPO / "profiles" / "spool-giacenze.yaml")
    return profile.read


def test_sample_is_what_make_spool_writes(tmp_path):
    shutil.copy(SAMPLE.parent / "make_spool.py", tmp_path)
    subprocess.run([sys.executable, str(tmp_path / "make_spool.py")], check=True, timeout=60)
    assert (tmp_path / SAMPLE.name).read_bytes() == SAMPLE.read_bytes()
    lines = SAMPLE.read_bytes().split(b"\r\n")[:-1]
    assert {len(line) for line in lines} == {133}  # FCFC + 132 columns
    assert sum(line.startswith(b"1") for line in lines) == 3


def test_sample_report_rows_and_totals():
    reader = SpoolReader(sample_options())
    report = FileReport(SAMPLE.name)
    REPORTS.append(report)
    batches = list(reader.read(SAMPLE, report))
    rows = [r for b in batches for r in b.rows()]
    assert report.tally.as_dict()["read"] == len(rows) == 38 and report.tally.rejected == 0
    by_wh = {w: [r for r in rows if r["MAGAZZINO"] == w] for w in ("01", "02", "03")}
    assert [len(v) for v in by_wh.values()] == [20, 9, 9]
    assert sum(r["GIACENZA"] or 0 for r in by_wh["01"]) == 1617  # as printed
    assert sum(r["VALORE"] or 0 for r in rows) == Decimal("163384.15")
    first = rows[0]
    assert first == {"MAGAZZINO": "01", "NOME_MAGAZZINO": "SEDE MILANO", "CODART": "D25FW0101",
                     "COLORE": "001", "TAGLIA": "S",
                     "DESCRIZIONE": "MAGLIA GIROCOLLO IN LANA MERINO", "GIACENZA": 12,
                     "VALORE": Decimal("376.80")}
    minus = next(r for r in rows if r["GIACENZA"] == -5)
    assert minus["VALORE"] == Decimal("-563.75")
    blank = next(r for r in rows if r["GIACENZA"] is None)
    assert blank["VALORE"] is None and blank["DESCRIZIONE"] == "PANTALONE CHINO PIÙ COMODO"
    # the heading repeated with "(segue)" on page 2 keeps the warehouse name clean
    assert {r["NOME_MAGAZZINO"] for r in by_wh["01"]} == {"SEDE MILANO"}
    lines = SAMPLE.read_bytes().decode("cp1252").split("\r\n")
    assert lines[batches[0].lines[0].as_py() - 1][1:].startswith("D25FW0101  001  S ")


def test_sample_profile_end_to_end_and_a_wrong_total_publishes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("FILEBRIDGE_LEDGER", raising=False)
    shutil.copytree(REPO / "profiles", tmp_path / "profiles",
                    ignore=shutil.ignore_patterns("*.db", "*.db-*"))
    job = Job(load_profile(tmp_path / "profiles" / "spool-giacenze.yaml"))
    inbox = job.profile.source.path
    inbox.mkdir(parents=True)
    good = inbox / SAMPLE.name
    good.write_bytes(SAMPLE.read_bytes())
    [ok] = run_files(job, [good])
    assert ok.status == "done" and ok.tally.sent == 38
    stock = (tmp_path / "outbox" / "stock" / (SAMPLE.stem + ".csv")).read_text("utf-8")
    assert "01,SEDE MILANO,D25FW0102-230-44,Cappotto cammello doppiopetto,-5,-563.75" in stock

    text = SAMPLE.read_bytes().decode("cp1252").replace("        47.387,25",
                                                        "        47.387,52")
    bad = inbox / "GIACENZE_SPOOL_20261128.txt"
    bad.write_bytes(text.encode("cp1252"))
    [refused] = run_files(job, [bad])
    assert refused.status == "rejected"
    assert ("control total VALORE for group MAGAZZINO=01: printed 47.387,52, sum of 20 "
            "detail lines 47.387,25") in refused.reason
    assert not (tmp_path / "outbox" / "stock" / "GIACENZE_SPOOL_20261128.csv").exists()
    ack = (tmp_path / "feedback" / "spool-giacenze" / "GIACENZE_SPOOL_20261128.ack.csv")
    assert "rejected" in ack.read_text("utf-8")
