"""The mapping language: expressions, fields computed from mapped fields, lists,
lookups (inline, files with encodings, composite keys) and the values shops accept.
Every bad input is checked for a clear message."""

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from pydantic import ValidationError

from filebridge.mapping import Mapper, MapSpec
from filebridge.records import Batch, FileReport

TODAY = dt.date(2027, 1, 15)


def spec(fields, base=None, **more):
    return MapSpec.model_validate({"fields": fields, **more}, context={"base": base})


def run(fields, data, base=None, today=TODAY, **more):
    m = Mapper(spec(fields, base, **more))
    rep = FileReport("t")
    n = len(next(iter(data.values())))
    table = pa.table({k: v if isinstance(v, pa.Array) else pa.array(v, pa.string())
                      for k, v in data.items()})
    out = m.apply(Batch(table, pa.array(range(10, 10 + n), pa.int64())), rep, today=today)
    return out, rep


def col(out, name):
    return out.column(name).to_pylist()


def rejects(rep):
    return {(r.line, r.field): r.reason for r in rep.rejects()}


def refused(fields, base=None, **more):
    with pytest.raises(ValidationError) as e:
        spec(fields, base, **more)
    return "\n".join(err["msg"] for err in e.value.errors())


PRICES = {"price": {"from": "PREZZO", "type": "decimal", "decimal": ","},
          "sale": {"from": "SALDO", "type": "decimal", "decimal": ","}}


# -- expressions ---------------------------------------------------------------

def test_coalesce_takes_the_first_non_empty_value():
    out, rep = run({**PRICES, "selling": {"expr": "coalesce(sale, price)"},
                    "raw": {"expr": "coalesce(SALDO, PREZZO)"}},
                   {"PREZZO": ["10,00", "20,00", "30,00", ""], "SALDO": ["", "8,50", "  ", ""]})
    assert col(out, "selling") == [Decimal("10.00"), Decimal("8.50"), Decimal("30.00"), None]
    assert col(out, "raw") == ["10,00", "8,50", "30,00", None]  # blanks count as empty
    assert out.table.schema.field("selling").type == pa.decimal128(38, 2)
    assert rep.tally.rejected == 0


def test_a_sale_in_force_on_the_run_date():
    fields = {**PRICES,
              "start": {"from": "DAL", "type": "date", "date_format": "DMY"},
              "end": {"from": "AL", "type": "date", "date_format": "DMY"},
              "on_sale": {"expr": "sale is not None and start <= today and "
                                  "(end is None or today <= end)"},
              "selling": {"expr": "sale if on_sale else price"}}
    data = {"PREZZO": ["100,00"] * 4, "SALDO": ["70,00", "70,00", "70,00", ""],
            "DAL": ["01/01/2027", "01/01/2027", "20/01/2027", "01/01/2027"],
            "AL": ["31/01/2027", "", "28/02/2027", "31/01/2027"]}
    out, _ = run(fields, data, today=dt.date(2027, 1, 15))
    assert col(out, "on_sale") == [True, True, False, False]
    assert col(out, "selling") == [Decimal("70.00"), Decimal("70.00"), Decimal("100.00"),
                                   Decimal("100.00")]
    later, _ = run(fields, data, today=dt.date(2027, 2, 5))  # the run date decides
    assert col(later, "on_sale") == [False, True, True, False]


def test_arithmetic_is_exact_and_integers_stay_integers():
    out, rep = run({"price": {"from": "P", "type": "decimal"},
                    "qty": {"from": "Q", "type": "integer"},
                    "total": {"expr": "price * qty"},
                    "next": {"expr": "qty + 1"},
                    "share": {"expr": "qty / 4"},
                    "net": {"expr": "round(price / 1.22, 2)"},
                    "tenth": {"expr": "0.1 + 0.2"}},
                   {"P": ["19.90", "0.10"], "Q": ["3", "7"]})
    assert col(out, "total") == [Decimal("59.70"), Decimal("0.70")]
    assert out.table.schema.field("next").type == pa.int64() and col(out, "next") == [4, 8]
    assert col(out, "share") == [Decimal("0.750000"), Decimal("1.750000")]
    assert col(out, "net") == [Decimal("16.31"), Decimal("0.08")]  # 16.311…, 0.0819…
    assert col(out, "tenth") == [Decimal("0.3")] * 2  # never a float
    assert rep.tally.rejected == 0


def test_rounding_is_half_away_from_zero():
    out, _ = run({"x": {"from": "X", "type": "decimal", "scale": 3},
                  "r": {"expr": "round(x, 2)"}}, {"X": ["2.345", "-2.345", "2.344", "0.005"]})
    assert col(out, "r") == [Decimal("2.35"), Decimal("-2.35"), Decimal("2.34"),
                             Decimal("0.01")]


def test_division_by_zero_rejects_that_row_naming_the_field():
    out, rep = run({"price": {"from": "P", "type": "decimal"},
                    "qty": {"from": "Q", "type": "integer"},
                    "unit_price": {"expr": "price / qty"}},
                   {"P": ["10.00", "10.00", "9.00"], "Q": ["4", "0", ""]})
    assert col(out, "unit_price") == [Decimal("2.500000"), None]  # an empty qty gives empty
    assert rejects(rep) == {(11, "unit_price"): "division by zero"}


def test_units_convert_exactly():
    out, _ = run({"kg": {"from": "W", "type": "decimal", "scale": 3},
                  "grams": {"expr": "unit(kg, 'kg', 'g')", "type": "integer"},
                  "pounds": {"expr": "unit(kg, 'kg', 'lb')"},
                  "from_lb": {"expr": "unit(2, 'lb', 'g')"},
                  "cm": {"expr": "unit(12, 'in', 'cm')"},
                  "litres": {"expr": "unit(750, 'ml', 'l')"}},
                 {"W": ["1.250", "0.300"]})
    assert col(out, "grams") == [1250, 300]
    assert col(out, "pounds") == [Decimal("2.755778"), Decimal("0.661387")]  # 2.7557788…
    assert col(out, "from_lb") == [Decimal("907.18474")] * 2
    assert col(out, "cm") == [Decimal("30.48")] * 2
    assert col(out, "litres") == [Decimal("0.750")] * 2


def test_a_simple_product_when_the_size_is_tu():
    out, _ = run({"size": {"from": "TAGLIA"},
                  "kind": {"expr": "'simple' if size in ['TU', 'UNI'] else 'variable'"},
                  "kind2": {"expr": "if_(size not in ('TU', 'UNI'), 'variable', 'simple')"},
                  "xl": {"expr": "'XL' in size"}},
                 {"TAGLIA": ["TU", "M", "UNI", "XL", ""]})
    assert col(out, "kind") == ["simple", "variable", "simple", "variable", "variable"]
    assert col(out, "kind2") == col(out, "kind")
    assert col(out, "xl") == [False, False, False, True, False]


def test_comparisons_logic_and_null_conditions():
    out, _ = run({"qty": {"from": "Q", "type": "integer"},
                  "price": {"from": "P", "type": "decimal"},
                  "since": {"from": "D", "type": "date"},
                  "few": {"expr": "0 < qty <= 10"},
                  "cheap": {"expr": "price < qty"},  # decimal against integer
                  "new": {"expr": "since >= '2027-01-01'"},
                  "either": {"expr": "few or not new"},
                  "label": {"expr": "'few' if few else 'many'"}},
                 {"Q": ["5", "50", ""], "P": ["4.99", "60.00", "1"],
                  "D": ["2027-01-02", "2026-12-31", ""]})
    assert col(out, "few") == [True, False, None]
    assert col(out, "cheap") == [True, False, None]
    assert col(out, "new") == [True, False, None]
    assert col(out, "either") == [True, True, None]
    assert col(out, "label") == ["few", "many", "many"]  # a null condition counts as false


def test_text_functions_and_dates():
    out, rep = run({"d": {"from": "D", "type": "date"},
                    "n": {"from": "N", "type": "decimal"},
                    "title": {"expr": "concat(upper(trim(T)), ' - ', lower(C), ' ', n)"},
                    "length": {"expr": "len(trim(T))"},
                    "as_text": {"expr": "text(d)"},
                    "due": {"expr": "d + 30"},
                    "age": {"expr": "today - d"},
                    "first": {"expr": "min(d, date('2027-01-10'))"},
                    "most": {"expr": "max(n, 2)"},
                    "parsed": {"expr": "date(ISO)"}},
                   {"T": [" maglia ", "x"], "C": ["ROSSO", ""], "D": ["2027-01-01", ""],
                    "N": ["1.50", ""], "ISO": ["2027-03-01", "01/03/2027"]})
    assert col(out, "title") == ["MAGLIA - rosso 1.50"]
    assert col(out, "length") == [6] and col(out, "as_text") == ["2027-01-01"]
    assert col(out, "due") == [dt.date(2027, 1, 31)] and col(out, "age") == [14]
    assert col(out, "first") == [dt.date(2027, 1, 1)] and col(out, "most") == [Decimal("2.00")]
    assert col(out, "parsed") == [dt.date(2027, 3, 1)]
    assert rejects(rep) == {(11, "parsed"): "not a date (YYYY-MM-DD)"}


def test_declared_type_converts_an_expression_exactly_or_rejects_the_row():
    out, rep = run({"price": {"from": "P", "type": "decimal"},
                    "third": {"expr": "price / 3", "type": "decimal", "scale": 2},
                    "whole": {"expr": "price * 2", "type": "integer"}},
                   {"P": ["3.00", "1.00", "0.50"]})
    assert col(out, "third") == [Decimal("1.00")] and col(out, "whole") == [6]
    got = rejects(rep)
    assert got[(11, "third")] == "third 0.333333 has more than 2 decimals (round it)"
    assert got[(12, "third")] == "third 0.166667 has more than 2 decimals (round it)"


# -- bad expressions are profile errors ----------------------------------------

@pytest.mark.parametrize("fields,expected", [
    ({"a": {"expr": "price +"}}, "not a valid expression"),
    ({"a": {"expr": "pirce(1)"}}, "unknown function 'pirce'; known: coalesce, concat"),
    ({"a": {"expr": "round(1, 2, 3)"}}, "round() takes 1 to 2 argument(s), got 3"),
    ({"a": {"expr": "unit(X, 'kg', 'cm')"}}, "cannot convert mass (kg) to length (cm)"),
    ({"a": {"expr": "unit(X, 'kilo', 'g')"}}, "unknown unit 'kilo'; known: mass: mg, g, kg"),
    ({"a": {"expr": "round(X, Y)"}}, "round(): argument 2 must be a whole number"),
    ({"a": {"expr": "X.upper()"}}, "only the functions of the mapping language"),
    ({"a": {"expr": "X.name"}}, "only input.NAME, mapped.NAME"),
    ({"a": {"expr": "__import__('os').system('x')"}}, "only the functions of the mapping"),
    ({"a": {"expr": "(lambda: 1)()"}}, "only the functions of the mapping language"),
    ({"a": {"expr": "[x for x in X]"}}, "ListComp is not allowed"),
    ({"a": {"expr": "X == None"}}, "compare with None using 'is None'"),
    ({"a": {"expr": "X ** 2"}}, "** is not supported"),
    ({"a": {"expr": "f'{X}'"}}, "f-strings are not supported; use concat"),
    ({"a": {"expr": "date('2027-02-30')"}}, "'2027-02-30' is not a date"),
    ({"p": {"from": "P", "type": "decimal"}, "a": {"expr": "p + 'x'"}},
     "cannot add a decimal number and text (use concat() to join text)"),
    ({"p": {"from": "P", "type": "decimal"}, "a": {"expr": "coalesce(p, 'none')"}},
     "coalesce: cannot mix a decimal number and text"),
    ({"d": {"from": "D", "type": "date"}, "a": {"expr": "d", "type": "integer"}},
     "type: integer cannot hold a date"),
    ({"d": {"from": "D", "type": "date"}, "a": {"expr": "upper(d)"}}, "upper(): expected text"),
    ({"a": {"expr": "mapped.nothing"}}, "mapped.nothing: there is no mapped field 'nothing'"),
    ({"a": {"expr": "1", "from": "X"}}, "give only one of from, value, format, expr"),
    ({"a": {"expr": "1+" * 5000 + "1"}}, "too deeply nested"),
    ({"a": {"expr": "trim(" * 150 + "X" + ")" * 150}}, "nests more than 100 levels deep"),
])
def test_bad_expressions_are_refused_at_load(fields, expected):
    assert expected in refused(fields)


def test_an_input_of_unknown_type_that_cannot_work_rejects_rows_naming_the_field():
    # Without a profile around it the input's type is unknown until the file is read.
    out, rep = run({"sku": {"from": "S"}, "double": {"expr": "P * 2"}},
                   {"S": ["A", "B"], "P": ["1", "2"]})
    assert len(out) == 0
    reasons = rejects(rep)
    assert reasons.keys() == {(10, "double"), (11, "double")}
    assert reasons[(10, "double")].startswith("cannot multiply text and a whole number (P is text")


# -- fields computed from mapped fields -----------------------------------------

def test_fields_read_other_mapped_fields_in_dependency_order():
    out, rep = run({"sku": {"format": "{article}-{size}"},
                    "label": {"expr": "concat(title, ' (', size, ')')"},
                    "title": {"from": "DESC", "apply": ["trim", "title"]},
                    "article": {"from": "ART", "apply": ["trim"]},
                    "size": {"from": "TAGLIA", "apply": ["upper"]},
                    "same": {"from": "label"}},
                   {"ART": [" A1 "], "DESC": [" maglia "], "TAGLIA": ["xl"]})
    assert out.names == ["sku", "label", "title", "article", "size", "same"]  # as declared
    assert out.rows() == [{"sku": "A1-XL", "label": "Maglia (XL)", "title": "Maglia",
                           "article": "A1", "size": "XL", "same": "Maglia (XL)"}]
    assert rep.tally.rejected == 0


def test_a_name_that_is_input_and_mapped_must_be_spelled_out(tmp_path):
    lookup = {"001": "Nero"}
    msg = refused({"colour": {"from": "colour", "lookup": lookup},
                   "sku": {"format": "{article}-{colour}"}})
    assert ("'colour' is both an input field and a mapped field that changes it: write "
            "{input.colour} for the value as read, or {mapped.colour} for the mapped value") in msg
    msg = refused({"colour": {"from": "colour", "apply": ["trim"]},
                   "x": {"from": "colour"}})
    assert "write from: input.colour for the value as read, or from: mapped.colour" in msg
    out, _ = run({"colour": {"from": "colour", "lookup": lookup},
                  "sku": {"format": "{input.colour}/{mapped.colour}"},
                  "up": {"expr": "upper(mapped.colour)"},
                  "raw": {"from": "input.colour"}},
                 {"colour": ["001"]})
    assert out.rows() == [{"colour": "Nero", "sku": "001/Nero", "up": "NERO", "raw": "001"}]
    # A field's own name is its input; an expression (new syntax, no old meaning to
    # keep) reads the mapped field; a plain pass-through is not ambiguous anywhere.
    out, _ = run({"title": {"expr": "trim(title)"}, "size": {"from": "size"},
                  "label": {"expr": "concat(title, '/', size)"},
                  "code": {"format": "{size}{input.title}"}},
                 {"title": [" a "], "size": ["M"]})
    assert col(out, "label") == ["a/M"] and col(out, "code") == ["M a "]


def test_names_with_spaces_are_reached_with_brackets():
    out, _ = run({"code": {"expr": "trim(input[\"Codice articolo\"])"},
                  "sku": {"format": "{code}-{Misura}"}},
                 {"Codice articolo": [" A1 "], "Misura": ["M"]})
    assert out.rows() == [{"code": "A1", "sku": "A1-M"}]


@pytest.mark.parametrize("fields,cycle", [
    ({"a": {"expr": "b + 1"}, "b": {"expr": "c * 2"}, "c": {"from": "a"}},
     "circular reference: a -> b -> c -> a"),
    ({"a": {"expr": "mapped.a + 1"}}, "circular reference: a -> a"),
    ({"x": {"from": "X"}, "a": {"format": "{x}{b}"}, "b": {"expr": "a"}},
     "circular reference: a -> b -> a"),
])
def test_circular_references_are_refused_naming_the_cycle(fields, cycle):
    assert cycle in refused(fields)


# -- lists -----------------------------------------------------------------------

def test_lists_from_split_from_fields_and_from_an_input_list():
    imgs = pa.array([[" a.jpg ", "", None, "b.jpg"], [], None], pa.list_(pa.string()))
    out, rep = run({"tags": {"expr": "split(TAGS, ',')"},
                    "images": {"expr": "[IMG1, IMG2, IMG3]"},
                    "kept": {"from": "IMGS", "apply": ["trim", "upper"]},
                    "joined": {"expr": "join(tags, '|')"},
                    "count": {"expr": "len(tags)"},
                    "sale": {"expr": "'saldi' in tags"}},
                   {"TAGS": ["donna, saldi,, ss27 ", "", None],
                    "IMG1": ["1.jpg", "", ""], "IMG2": ["", "", ""], "IMG3": ["3.jpg", "x", ""],
                    "IMGS": imgs})
    assert out.table.schema.field("tags").type == pa.list_(pa.string())
    assert col(out, "tags") == [["donna", "saldi", "ss27"], None, None]  # empty list -> null
    assert col(out, "images") == [["1.jpg", "3.jpg"], ["x"], None]
    assert col(out, "kept") == [["A.JPG", "B.JPG"], None, None]  # element-wise transforms
    assert col(out, "joined") == ["donna|saldi|ss27", None, None]
    assert col(out, "count") == [3, None, None]
    assert col(out, "sale") == [True, False, False]
    assert rep.tally.rejected == 0


def test_checks_apply_to_each_element_of_a_list(tmp_path):
    (tmp_path / "cat.csv").write_text("code,name\nD,Donna\nU,Uomo\n")
    out, rep = run({"sku": {"from": "S"},
                    "images": {"expr": "split(IMGS, ';')", "required": True,
                               "regex": r"https://[^ ]+\.jpg"},
                    "categories": {"expr": "split(CATS, ',')", "lookup": "cat.csv"},
                    "sizes": {"expr": "split(SIZES, ',')", "type": "integer", "min": 30}},
                   {"S": ["A", "B", "C", "D", "E"],
                    "IMGS": ["https://x/1.jpg;https://x/2.jpg", "", "https://x/1.jpg;ftp://y.png",
                             "https://x/1.jpg", "https://x/1.jpg"],
                    "CATS": ["D,U", "D", "D", "D,X,Y", "U"],
                    "SIZES": ["38,40", "38", "40", "42", "40,2x"]}, base=tmp_path)
    assert out.rows() == [{"sku": "A", "images": ["https://x/1.jpg", "https://x/2.jpg"],
                           "categories": ["Donna", "Uomo"], "sizes": [38, 40]}]
    got = rejects(rep)
    assert got[(11, "images")] == "required field images is empty"
    assert got[(12, "images")] == ("['https://x/1.jpg', 'ftp://y.png'] does not match "
                                   r"https://[^ ]+\.jpg")
    assert got[(13, "categories")] == "'X', 'Y' not in lookup cat.csv"
    assert got[(14, "sizes")] == "['40', '2x'] is not a valid integer"


def test_a_lookup_may_drop_unknown_elements_of_a_list():
    out, rep = run({"cats": {"expr": "split(C, ',')", "lookup": {"D": "Donna"},
                             "lookup_missing": "null"}}, {"C": ["D,X", "X"]})
    assert col(out, "cats") == [["Donna"], None] and rep.tally.rejected == 0


# -- lookups -------------------------------------------------------------------

def test_inline_lookup_is_a_table_not_a_file_name():
    out, rep = run({"colour": {"from": "C", "lookup": {"01": "Rosso", "02": "Blu"}}},
                   {"C": ["01", "02 ", "03", ""]})
    assert col(out, "colour") == ["Rosso", "Blu", None]
    assert rejects(rep) == {(12, "colour"): "'03' is not in the inline lookup"}


def test_inline_lookup_codes_read_as_numbers_are_refused():
    msg = refused({"colour": {"from": "C", "lookup": {1: "Rosso"}}})
    assert "inline lookup code 1 was read by YAML as a number (leading zeros lost): quote " \
           "every code, e.g. '01': Rosso" in msg


def test_lookup_file_with_encoding_delimiter_and_named_columns(tmp_path):
    (tmp_path / "colori.csv").write_bytes(
        "CODICE;SIGLA;DESCRIZIONE\n001;NE;Nero\n506;BN;Blu notte è\n".encode("cp1252"))
    out, rep = run({"colour": {"from": "C", "lookup": {
        "file": "colori.csv", "encoding": "cp1252", "delimiter": ";", "key": "CODICE",
        "value": "DESCRIZIONE"}}}, {"C": ["506", "001", "999"]}, base=tmp_path)
    assert col(out, "colour") == ["Blu notte è", "Nero"]
    assert rejects(rep) == {(12, "colour"): "'999' is not in lookup colori.csv"}


def test_lookup_by_type_and_code(tmp_path):
    (tmp_path / "codici.csv").write_text(
        "TIPO;CODICE;DESCRIZIONE\nCOL;01;Nero\nMAT;01;Cotone\nMAT;02;Lino\n")
    table = {"file": "codici.csv", "delimiter": ";", "key": ["TIPO", "CODICE"],
             "value": "DESCRIZIONE"}
    out, rep = run({"colour": {"lookup": {**table, "match": ['"COL"', "COLORE"]}},
                    "material": {"lookup": {**table, "match": ["'MAT'", "trim(MAT)"]}},
                    "pair": {"lookup": {**table, "match": ["T", "COLORE"]},
                             "lookup_missing": "keep"}},
                   {"COLORE": ["01", "01"], "MAT": [" 02", "03"], "T": ["MAT", "XX"]},
                   base=tmp_path)
    assert out.rows() == [{"colour": "Nero", "material": "Lino", "pair": "Cotone"}]
    assert rejects(rep) == {(11, "material"): "'MAT/03' is not in lookup codici.csv"}


@pytest.mark.parametrize("content,lookup,expected", [
    (b"CODICE;DESCR\n001;Nero\n002;Blu \xe8\n", {"delimiter": ";"},
     ("colori.csv, line 3: byte 0xe8 (column 9) is not utf-8 text; it reads as cp1252: set "
     "encoding: cp1252")),
    (b"CODICE;DESCR\n001;Nero\n", {"delimiter": ";", "value": "DESCRIZIONE"},
     "colori.csv: no column 'DESCRIZIONE' (its columns: CODICE, DESCR; delimiter ';')"),
    (b"CODICE;DESCR\n001;Nero\n", {},
     ("colori.csv: only 1 column(s) (CODICE;DESCR); expected code and value (is the delimiter "
     "',' right?)")),
    (b"CODICE;DESCR\n001;Nero\n002\n", {"delimiter": ";"},
     "colori.csv, line 3: 1 column(s), expected at least 2 (CODICE, DESCR)"),
    (b"CODICE;DESCR\n001;Nero\n002;Blu\n001;Rosso\n", {"delimiter": ";"},
     "colori.csv, lines 2 and 4: the code '001' appears twice"),
    (b"", {}, "colori.csv is empty"),
    (b"T;C;D\nA;1;x\n", {"delimiter": ";", "key": ["T", "C"]},
     "the key has 2 columns: give match: with one expression per column"),
    (b"T;C;D\nA;1;x\n", {"delimiter": ";", "key": ["T", "C"], "match": ["T"]},
     "match has 1 expression(s) for 2 key column(s)"),
    (b"T;C;D\nA;1;x\n", {"delimiter": ";", "match": ["upper("]}, "match[0] 'upper(': not a valid"),
])
def test_bad_lookup_files_are_profile_errors(tmp_path, content, lookup, expected):
    (tmp_path / "colori.csv").write_bytes(content)
    msg = refused({"colour": {"lookup": {"file": "colori.csv", **lookup}}}, base=tmp_path)
    assert expected in msg


def test_a_missing_lookup_file_is_a_profile_error(tmp_path):
    msg = refused({"colour": {"from": "C", "lookup": "nope.csv"}}, base=tmp_path)
    assert "lookup file" in msg and "nope.csv: cannot be read (No such file or directory)" in msg


def test_values_of_a_computed_key_from_rows_as_read():
    # How a full-catalog API sync learns the SKUs of rejected rows.
    m = Mapper(spec({"article": {"from": "ART", "apply": ["trim"]},
                     "size": {"expr": "upper(TAGLIA)"},
                     "sku": {"format": "{article}-{size}"}}))
    assert m.values_of("sku", [{"ART": " A1 ", "TAGLIA": "xl"}, {"ART": "B2", "TAGLIA": None}]) \
        == ["A1-XL", "B2-"]


def test_constants_with_a_fraction_are_exact_decimals():
    out, _ = run({"vat": {"value": 0.22}, "p": {"from": "P", "type": "decimal", "default": 9.9},
                  "gross": {"expr": "p * (1 + vat)"}}, {"P": ["10.00", ""]})
    assert out.table.schema.field("vat").type == pa.decimal128(38, 2)
    assert col(out, "gross") == [Decimal("12.2000"), Decimal("12.0780")]
