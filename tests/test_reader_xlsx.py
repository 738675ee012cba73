import zipfile
from collections.abc import Sequence
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
    ws = wb.active
    assert ws is not None  # openpyxl types it optional
    for r in rows:
        ws.append(r)
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
    (0.1 + 0.2, "0.3"), (30.499999999999996, "30.5"),  # float noise past Excel's 15 digits
    (1.2345678901234567e19, "12345678901234600000"), (-8012345000005.0, "-8012345000005"),
    (datetime(2026, 11, 27), "2026-11-27"),
    (datetime(2026, 11, 27, 14, 30), "2026-11-27T14:30:00"),
    (date(2026, 1, 2), "2026-01-02"), (time(8, 15), "08:15:00"),
])
def test_cell_text(value, text):
    assert cell_text(value) == text


# ------------------------------------------------------- spreadsheets as people make them

REPO = Path(__file__).resolve().parents[1]
COLLEZIONE = REPO / "samples" / "collezione" / "COLLEZIONE_FW26.xlsx"
ITALIAN = {"decimal": ",", "thousands": "."}
COLLECTION_FIELDS = {"Prezzo": {"type": "decimal"}, "Prezzo saldo": {"type": "decimal"},
                     "Saldo dal": {"type": "date", "format": "DMY"},
                     "Saldo al": {"type": "date", "format": "DMY"},
                     "Giacenza": {"type": "integer"}}


def make_samples():
    """samples/make_samples.py as a module: the sample's rows as the generator wrote them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_samples",
                                                  REPO / "samples" / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_collection_sample_as_it_comes_from_it():
    rows, lines, rep, _ = read(COLLEZIONE, sheet="Collezione", header_row=3,
                               fields=COLLECTION_FIELDS, **ITALIAN)
    written = make_samples().collection_rows()
    sheet_rows = {4 + i: r for i, r in enumerate(written) if r is not None}
    bad = {n: r["bad"] for n, r in sheet_rows.items() if r["bad"]}
    # Every written row is read once (the blank spacer row is not a row), the bad ones
    # rejected naming their column, the others kept: the counts add up.
    assert 4 + written.index(None) not in lines
    assert sorted(lines + [r.line for r in rep.rejects()]) == sorted(sheet_rows)
    assert {r.line: r.field for r in rep.rejects()} == bad
    assert set(bad.values()) == {"Prezzo", "Nome colore", "Saldo al", "Saldo dal"}
    assert rep.tally.read == len(sheet_rows) == len(rows) + rep.tally.rejected
    by_line = dict(zip(lines, rows, strict=True))
    for n, row in by_line.items():
        src = sheet_rows[n]
        assert row["EAN"] == src["EAN"]  # a number cell with a 13-zero format: zeros back
        assert row["Prezzo"] == Decimal(src["Prezzo"][0])  # text 1.250,00 or number 1250
        sale, _ = src["Prezzo saldo"]
        assert row["Prezzo saldo"] == (Decimal(sale) if sale else None)
        assert row["Saldo dal"] == src["Saldo dal"][0]  # a date cell or typed text
        assert row["Saldo al"] == src["Saldo al"][0]
    coat = [r for r in rows if r["Codice"] == "D26FW0101"]
    assert {r["Prezzo"] for r in coat} == {Decimal("1250.00")} and len(coat) == 8
    assert by_line[4]["EAN"] == "0012345001017" and by_line[4]["Nome colore"] == "Nero"
    assert by_line[4]["Saldo al"] == date(2027, 2, 28)  # typed as 28/02/2027
    # The row pasted twice is read twice: duplicate SKUs are for the catalog to judge.
    skus = [(r["Codice"], r["Colore"], r["Taglia"]) for r in rows]
    [twice] = {s for s in skus if skus.count(s) > 1}
    assert twice == ("D26FW0102", "506", "M") and skus.count(twice) == 2
    reasons = {r.field: r.reason for r in rep.rejects()}
    assert reasons["Prezzo"] == ("'149.50' is not a decimal number (decimal mark ',', "
                                 "thousands '.', at most 2 decimals)")
    assert reasons["Nome colore"] == "the cell shows the Excel error #N/A"
    assert reasons["Saldo al"] == "'31/02/2027' is not a date in format DMY"
    assert reasons["Saldo dal"].startswith("46394 is a number, not a date in format DMY")
    assert "(as an Excel date: 2027-01-07)" in reasons["Saldo dal"]
    [pasted] = [r for r in rep.rejects() if r.field == "Nome colore"]
    assert pasted.values["Colore"] == "777" and pasted.values["Nome colore"] == "#N/A"


def test_collection_sample_header_found_by_name_and_default_sheet():
    # The notes sheet comes first: by default it is the one read (the first visible).
    assert read(COLLEZIONE, header_row=0, columns=["nota"])[0][0]["nota"].startswith(
        "Compilare")
    by_name = read(COLLEZIONE, sheet="Collezione", header_with="ean",
                   fields=COLLECTION_FIELDS, **ITALIAN)
    by_row = read(COLLEZIONE, sheet="Collezione", header_row=3, fields=COLLECTION_FIELDS,
                  **ITALIAN)
    assert by_name[:2] == by_row[:2] and len(by_name[0]) > 30
    with pytest.raises(RejectedFile, match=r"sheet 'Collezione': no row among the first 100 "
                                           r"has a cell 'Barcode' \(header_with\)"):
        read(COLLEZIONE, sheet="Collezione", header_with="Barcode")


def test_header_not_where_the_profile_says():
    # header_row 1 is the merged title: the typed columns are not there.
    with pytest.raises(RejectedFile, match=r"sheet 'Collezione', header row 1: no column "
                                           r"'Prezzo', 'Giacenza' \(the profile's fields/"
                                           r"filter\); the row holds 'NUOVA COLLEZIONE FW26'"
                       ) as e:
        read(COLLEZIONE, sheet="Collezione", fields={"Prezzo": {"type": "decimal"},
                                                     "Giacenza": {"type": "integer"}})
    assert e.value.line == 1
    with pytest.raises(RejectedFile, match=r"sheet 'Collezione', header row 2 is empty"):
        read(COLLEZIONE, sheet="Collezione", header_row=2)
    with pytest.raises(RejectedFile, match=r"sheet 'Note' has no row 50 \(header_row\)"):
        read(COLLEZIONE, sheet="Note", header_row=50)


def cells(path: Path, rows: list[list], formats: dict[int, str] | None = None,
          before: Sequence[tuple[str, bool]] = ()) -> Path:
    """A sheet 'Dati' holding ``rows`` (header first), written as typed: str as text
    cells, numbers as numbers, datetimes as date cells. ``formats``: column -> number
    format for the number cells of that column. ``before``: sheets (name, hidden) that
    come first."""
    wb = xlsxwriter.Workbook(str(path))
    for name, hidden in before:
        extra = wb.add_worksheet(name)
        extra.write("A1", f"{name} sheet")
        if hidden:
            extra.hide()
    ws = wb.add_worksheet("Dati")
    ws.activate()  # Excel cannot hide the active sheet
    fmt = {c: wb.add_format({"num_format": f}) for c, f in (formats or {}).items()}
    day = wb.add_format({"num_format": "dd/mm/yyyy"})
    stamp = wb.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, str) and v.startswith("#"):
                ws.write_formula(r, c, "=NA()", None, v)  # an error the formula saved
            elif isinstance(v, str):
                ws.write_string(r, c, v)
            elif isinstance(v, datetime):
                ws.write_datetime(r, c, v, stamp if v.time() != time() else day)
            else:
                ws.write_number(r, c, v, fmt.get(c))
    wb.close()
    return path


def test_text_prices_in_the_reader_notation_number_cells_exact(tmp_path):
    p = cells(tmp_path / "p.xlsx", [
        ["sku", "prezzo", "peso", "qta"],
        ["a", "1.250,00", "0.45", "1.200"],
        ["b", 1250.5, 0.45, 1200],       # number cells: exact whatever the notation
        ["c", "1250,00", "1,5", "12"],   # no thousands separator: fine
        ["d", 0.1 + 0.2, 2, 3],          # float noise: Excel shows 0.3, so do we
        ["e", "12.50", "1", "1"],        # a point in an Italian price: refused, not 1250
        ["f", "€ 1.250,00", "1", "1"],   # a currency sign typed in: refused
        ["g", "1", "1.000,5", "1"],      # peso takes a point as decimal mark, no thousands
    ])
    fields = {"prezzo": {"type": "decimal"},
              "peso": {"type": "decimal", "scale": 3, "decimal": ".", "thousands": None},
              "qta": {"type": "integer"}}
    rows, lines, rep, _ = read(p, fields=fields, **ITALIAN)
    assert [(r["sku"], r["prezzo"], r["peso"], r["qta"]) for r in rows] == [
        ("a", Decimal("1250.00"), Decimal("0.450"), 1200),
        ("b", Decimal("1250.50"), Decimal("0.450"), 1200),
        ("d", Decimal("0.30"), Decimal("2.000"), 3)]
    rejects = {r.line: (r.field, r.reason) for r in rep.rejects()}
    italian = "a decimal number (decimal mark ',', thousands '.', at most 2 decimals)"
    assert rejects == {
        4: ("peso", "'1,5' is not a decimal number (decimal mark '.', at most 3 decimals)"),
        6: ("prezzo", f"'12.50' is not {italian}"),
        7: ("prezzo", f"'€ 1.250,00' is not {italian}"),
        8: ("peso", "'1.000,5' is not a decimal number (decimal mark '.', at most 3 decimals)"),
    }
    assert lines == [2, 3, 5] and rep.tally.read == 7
    # Under the default notation the number cells read the same, the text differently.
    got, _, rep, _ = read(p, fields={"prezzo": {"type": "decimal"}})
    assert {r["sku"]: r["prezzo"] for r in got} == {
        "b": Decimal("1250.50"), "d": Decimal("0.30"), "e": Decimal("12.50"),
        "g": Decimal("1.00")}
    assert [r.line for r in rep.rejects()] == [2, 4, 7]


def test_separator_options_are_checked():
    with pytest.raises(ValidationError, match=r"fields.prezzo: decimal and thousands are "
                                              r"both ','"):
        XlsxOptions.model_validate({"format": "xlsx", "decimal": ",", "thousands": ",",
                                    "fields": {"prezzo": {"type": "decimal"}}})
    with pytest.raises(ValidationError, match=r"fields.peso: decimal and thousands are both"):
        XlsxOptions.model_validate({"format": "xlsx", **ITALIAN,
                                    "fields": {"peso": {"type": "decimal", "decimal": "."}}})
    with pytest.raises(ValidationError, match="decimal"):
        XlsxOptions.model_validate({"format": "xlsx", "decimal": ";"})


def test_date_fields_take_date_cells_and_typed_text(tmp_path):
    p = cells(tmp_path / "d.xlsx", [
        ["sku", "saldo", "ymd", "cymd"],
        ["a", datetime(2027, 2, 28), 20270228, datetime(2027, 2, 28)],
        ["b", "28/02/2027", "20270228", "1270228"],
        ["c", "1/3/2027", datetime(2027, 3, 1), 1270301],
        ["d", "31/02/2027"],                          # no such day
        ["e", datetime(2027, 2, 28, 14, 30)],         # a time would be lost
        ["f", 46446],                                 # a date cell that lost its format
        ["g", "2027-02-28"],                          # not the declared format
        ["h", None, None, datetime(2045, 1, 1)],            # fits *CYMD
    ])
    fields = {"saldo": {"type": "date", "format": "DMY"},
              "ymd": {"type": "date", "format": "YYYYMMDD"},
              "cymd": {"type": "date", "format": "*CYMD"}}
    # 01032027 typed in a General cell is stored as the number 1032027.
    ddmmyyyy = cells(tmp_path / "z.xlsx", [["d"], [1032027], [28022027], [datetime(2027, 3, 1)]])
    assert read(ddmmyyyy, fields={"d": {"type": "date", "format": "%d%m%Y"}})[0] == [
        {"d": date(2027, 3, 1)}, {"d": date(2027, 2, 28)}, {"d": date(2027, 3, 1)}]
    rows, _, rep, _ = read(p, fields=fields)
    feb28, mar1 = date(2027, 2, 28), date(2027, 3, 1)
    assert [(r["sku"], r["saldo"], r["ymd"], r["cymd"]) for r in rows] == [
        ("a", feb28, feb28, feb28), ("b", feb28, feb28, feb28), ("c", mar1, mar1, mar1),
        ("h", None, None, date(2045, 1, 1))]
    rejects = {r.line: (r.field, r.reason) for r in rep.rejects()}
    assert rejects[5] == ("saldo", "'31/02/2027' is not a date in format DMY")
    assert rejects[6] == ("saldo", ("the cell holds a date with a time of day "
                                    "(2027-02-28 14:30); the field wants a date"))
    assert rejects[7] == ("saldo", ("46446 is a number, not a date in format DMY: the cell "
                                    "has no date format (as an Excel date: 2027-02-28); "
                                    "format the cells as dates or set serial_dates: true"))
    assert rejects[8] == ("saldo", "'2027-02-28' is not a date in format DMY")
    assert rep.tally.read == 8 and len(rows) + rep.tally.rejected == 8
    # serial_dates: the lost format is restored; other rejects stay.
    rows, _, rep, _ = read(p, fields=fields, serial_dates=True)
    assert [(r["sku"], r["saldo"], r["ymd"]) for r in rows if r["sku"] == "f"] == [
        ("f", feb28, None)]
    assert rep.tally.rejected == 3


def test_a_date_cell_outside_the_format_is_refused(tmp_path):
    p = cells(tmp_path / "y.xlsx", [["sku", "dmy"], ["a", datetime(2039, 12, 31)],
                                    ["b", datetime(2045, 1, 1)]])
    rows, _, rep, _ = read(p, fields={"dmy": {"type": "date", "format": "*DMY"}})
    assert rows == [{"sku": "a", "dmy": date(2039, 12, 31)}]
    [rej] = list(rep.rejects())
    assert (rej.line, rej.field) == (3, "dmy")
    assert rej.reason == "the date 2045-01-01 cannot be written in format *DMY"


def test_number_cells_honour_zero_padded_formats(tmp_path):
    p = cells(tmp_path / "n.xlsx", [
        ["ean", "cap", "testo", "prezzo", "grande", "conto"],
        [12345001017, 123, 123, 24.956, 12345678901234567890, -5],
        [8012345001514, 98100, 0.5, 1250, 1e15, 12.6],
    ], formats={0: "0000000000000", 1: "00000", 2: "@", 3: "0.00", 4: "0", 5: "00000"})
    rows, _, rep, _ = read(p)
    assert rows == [
        {"ean": "0012345001017", "cap": "00123", "testo": "123", "prezzo": "24.956",
         "grande": "12345678901234600000", "conto": "-00005"},  # Excel's 15 digits
        {"ean": "8012345001514", "cap": "98100", "testo": "0.5", "prezzo": "1250",
         "grande": "1000000000000000", "conto": "12.6"},
    ]
    assert rep.tally.rejected == 0


def test_error_cells_reject_their_row(tmp_path):
    p = cells(tmp_path / "e.xlsx", [["sku", "nome", "prezzo"], ["a", "Nero", 10],
                                    ["b", "#N/A", 10], ["c", "Rosso", "#DIV/0!"],
                                    ["d", "#VALUE!", "#REF!"]])
    rows, lines, rep, _ = read(p, fields={"prezzo": {"type": "decimal"}})
    assert [r["sku"] for r in rows] == ["a"] and lines == [2]
    assert [(r.line, r.field, r.reason) for r in rep.rejects()] == [
        (3, "nome", "the cell shows the Excel error #N/A"),
        (4, "prezzo", "the cell shows the Excel error #DIV/0!"),
        (5, "nome", "the cell shows the Excel error #VALUE!"),  # the first bad column
    ]
    assert rep.tally.read == 4 and rep.tally.rejected == 3


def test_hidden_and_chart_sheets_are_passed_over(tmp_path):
    p = cells(tmp_path / "h.xlsx", [["sku"], ["a"]], before=[("Liste", True)])
    assert read(p)[0] == [{"sku": "a"}]  # the hidden first sheet is not the default
    assert read(p, sheet="Liste", header_row=0, columns=["x"])[0] == [{"x": "Liste sheet"}]
    wb = xlsxwriter.Workbook(str(tmp_path / "c.xlsx"))
    chart = wb.add_chart({"type": "line"})
    chart.add_series({"values": "=Dati!$A$2:$A$3"})
    wb.add_chartsheet("Grafico").set_chart(chart)
    wb.add_worksheet("Dati").write_column("A1", ["n", 1, 2])
    wb.close()
    assert read(tmp_path / "c.xlsx")[0] == [{"n": "1"}, {"n": "2"}]
    with pytest.raises(RejectedFile, match="chart sheet"):
        read(tmp_path / "c.xlsx", sheet=0)


def test_blank_rows_and_cells_right_of_the_table(tmp_path):
    p = cells(tmp_path / "b.xlsx", [["sku", "qta"], ["a", 1], [None, None, "nota a lato"],
                                    ["  ", None], ["b", 2]])
    rows, lines, rep, _ = read(p, fields={"qta": {"type": "integer"}})
    assert rows == [{"sku": "a", "qta": 1}, {"sku": "b", "qta": 2}] and lines == [2, 5]
    assert rep.tally.read == 2


def test_header_with_options_rules():
    with pytest.raises(ValidationError, match="leave header_row out"):
        XlsxOptions.model_validate({"format": "xlsx", "header_with": "EAN", "header_row": 3})
    with pytest.raises(ValidationError, match="not in columns"):
        XlsxOptions.model_validate({"format": "xlsx", "header_row": 0, "columns": ["a"],
                                    "fields": {"b": {"type": "integer"}}})
