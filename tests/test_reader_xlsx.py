import zipfile
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
import xlsxwriter
from helpers import read_all
from openpyxl import Workbook
from pydantic import ValidationError

from filebridge.errors import RejectedFile
from filebridge.readers.xlsx import XlsxOptions, XlsxReader, cell_text


def read(path: Path, **opts):
    return read_all(XlsxReader(XlsxOptions.model_validate({"format": "xlsx", **opts})), path)


def listino(path: Path) -> Path:
    """A workbook as people send them: a cover sheet, titles above the header, an EAN
    typed as text and one typed as a number, real dates, a blank row."""
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("Note").write("A1", "leggimi")
    ws = wb.add_worksheet("Articoli")
    day = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write("A1", "Listino autunno")
    ws.write_row("A3", ["Codice", "EAN", "Prezzo", "Data", "Attivo"])
    ws.write_string("A4", "00123")
    ws.write_string("B4", "0012345678905")  # text: the zeros stay
    ws.write_number("C4", 12.5)
    ws.write_datetime("D4", datetime(2026, 11, 27), day)
    ws.write_boolean("E4", True)
    # row 5 left empty
    ws.write_number("A6", 124)
    ws.write_number("B6", 8012345000005)  # a 13-digit number: a float in the file
    ws.write_number("C6", 0.1)
    ws.write_datetime("D6", datetime(2026, 1, 2), day)
    ws.write_boolean("E6", False)
    ws.write_row("A7", ["X9", "", "abc", None, None])
    wb.close()
    return path


FIELDS = {"Prezzo": {"type": "decimal", "scale": 2}, "Data": {"type": "date"},
          "Attivo": {"type": "boolean"}}


def test_sheet_by_name_header_row_and_cell_hygiene(tmp_path):
    rows, lines, rep, _ = read(listino(tmp_path / "l.xlsx"), sheet="Articoli", header_row=3,
                               fields=FIELDS)
    assert rows == [
        {"Codice": "00123", "EAN": "0012345678905", "Prezzo": Decimal("12.50"),
         "Data": date(2026, 11, 27), "Attivo": True},
        {"Codice": "124", "EAN": "8012345000005", "Prezzo": Decimal("0.10"),
         "Data": date(2026, 1, 2), "Attivo": False},
    ]
    assert lines == [4, 6]  # sheet rows; the empty row 5 is not counted
    [rej] = list(rep.rejects())
    assert (rej.line, rej.field) == (7, "Prezzo") and "'abc'" in rej.reason
    assert rep.tally.read == 3 and rep.tally.rejected == 1


def test_sheet_by_position_case_insensitive_name_and_no_extension(tmp_path):
    p = listino(tmp_path / "l.xlsx")
    plain = p.rename(tmp_path / "ARTICOLI_20261127")  # inbox files rarely keep .xlsx
    by_pos = read(plain, sheet=1, header_row=3)[0]
    by_name = read(plain, sheet="articoli", header_row=3)[0]
    assert by_pos == by_name and by_pos[0]["EAN"] == "0012345678905"
    # default: the first sheet
    assert read(plain, header_row=0, columns=["nota"])[0] == [{"nota": "leggimi"}]


def test_missing_sheet_lists_the_sheets(tmp_path):
    p = listino(tmp_path / "l.xlsx")
    with pytest.raises(RejectedFile, match="sheet 'Prezzi' not found; the workbook has: "
                                           "'Note', 'Articoli'"):
        read(p, sheet="Prezzi")
    with pytest.raises(RejectedFile, match="sheet 5 not found"):
        read(p, sheet=5)


def test_not_an_xlsx_is_refused(tmp_path):
    csv = tmp_path / "a.xlsx"
    csv.write_text("Codice;Prezzo\n001;1,50\n", encoding="utf-8")
    with pytest.raises(RejectedFile, match="not an .xlsx workbook: the file is not a zip"):
        read(csv)
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(RejectedFile, match="an old .xls"):
        read(xls)
    with zipfile.ZipFile(tmp_path / "b.xlsx", "w") as z:
        z.writestr("hello.txt", "not a workbook")
    with pytest.raises(RejectedFile, match="not an .xlsx workbook"):
        read(tmp_path / "b.xlsx")


def _sheet(path: Path, rows: list[list]) -> Path:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(path)
    return path


def test_bad_header_names_the_columns(tmp_path):
    with pytest.raises(RejectedFile, match=r"repeats column names: 'SKU' in A, C") as e:
        read(_sheet(tmp_path / "d.xlsx", [["SKU", "Qta", "SKU"], ["1", 2, "3"]]))
    assert e.value.line == 1
    with pytest.raises(RejectedFile, match="no name in column\\(s\\) B"):
        read(_sheet(tmp_path / "e.xlsx", [["SKU", None, "Qta", None], ["1", 2, 3]]))


def test_no_header_columns_data_row_batches_and_filter(tmp_path):
    rows = [["Esportazione del 27/11"], []] + [[f"A{i}", i % 3] for i in range(1, 8)]
    p = _sheet(tmp_path / "n.xlsx", rows)
    got, lines, rep, batches = read(p, header_row=0, columns=["sku", "qty"], data_row=3,
                                    batch_rows=3, fields={"qty": {"type": "integer"}},
                                    filter=[{"field": "qty", "min": 1}])
    assert [len(b) for b in batches] == [2, 2, 1]  # batches of 3 rows, then filtered
    assert [r["sku"] for r in got] == ["A1", "A2", "A4", "A5", "A7"]
    assert lines == [3, 4, 6, 7, 9]
    t = rep.tally
    assert (t.read, t.skipped) == (7, 2)
    assert t.read == t.rejected + t.skipped + len(got)


def test_options_rules():
    with pytest.raises(ValidationError, match="needs columns"):
        XlsxOptions.model_validate({"format": "xlsx", "header_row": 0})
    with pytest.raises(ValidationError, match="set header_row: 0"):
        XlsxOptions.model_validate({"format": "xlsx", "columns": ["a"]})


@pytest.mark.parametrize("value, text", [
    ("00123", "00123"), (None, ""), (True, "1"), (False, "0"), (7, "7"),
    (8012345000005.0, "8012345000005"), (1e20, "100000000000000000000"),
    (12.5, "12.5"), (0.1, "0.1"), (1e-7, "0.0000001"), (-3.25, "-3.25"),
    (datetime(2026, 11, 27), "2026-11-27"),
    (datetime(2026, 11, 27, 14, 30), "2026-11-27T14:30:00"),
    (date(2026, 1, 2), "2026-01-02"), (time(8, 15), "08:15:00"),
])
def test_cell_text(value, text):
    assert cell_text(value) == text
