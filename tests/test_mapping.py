import datetime as dt
from decimal import Decimal

import pytest
from pydantic import ValidationError

from filebridge.mapping import Mapper, MapSpec
from filebridge.records import Batch, FileReport


def run(fields, data, base=None, **spec):
    m = Mapper(MapSpec.model_validate({"fields": fields, **spec}, context={"base": base}))
    rep = FileReport("t")
    out = m.apply(Batch.from_pydict(data, list(range(10, 10 + len(next(iter(data.values())))))),
                  rep)
    return out, rep


def test_sources_transforms_and_templates():
    out, rep = run({
        "sku": {"format": "{ART}-{COL}-{SIZE}"},
        "handle": {"from": "ART", "apply": ["trim", "lower"]},
        "title": {"from": "DESC", "apply": ["collapse_spaces", "title"]},
        "brand": {"value": "Acme"},
        "code": {"from": "ART", "apply": [{"pad": {"width": 8}}, {"prefix": "IT-"}]},
        "slug": {"from": "DESC", "apply": ["slug"]},
    }, {"ART": ["AB12 "], "COL": ["001"], "SIZE": ["XL"], "DESC": ["  MAGLIA   perché  SÌ "]})
    assert out.rows() == [{"sku": "AB12 -001-XL", "handle": "ab12", "title": "Maglia Perché Sì",
                           "brand": "Acme", "code": "IT-000AB12 ", "slug": "maglia-perché-sì"}]
    assert rep.tally.rejected == 0


def test_parsing_lookup_default_and_checks(tmp_path):
    (tmp_path / "colours.csv").write_text("code,name\n001,Nero\n506,Blu notte\n")
    fields = {
        "sku": {"from": "SKU", "required": True, "regex": "[A-Z0-9-]+"},
        "colour": {"from": "COL", "lookup": "colours.csv"},
        "price": {"from": "P", "type": "decimal", "decimal": ",", "min": 0},
        "stock": {"from": "Q", "type": "integer", "clamp": [0, None]},
        "ean": {"from": "EAN", "check": "ean13"},
        "season": {"from": "S", "default": "FW25"},
        "since": {"from": "D", "type": "date", "date_format": "DMY"},
    }
    data = {"SKU": ["A-1", "", "b 2", "A-4", "A-5", "A-6"],
            "COL": ["001", "506", "001", "999", "001", "001"],
            "P": ["19,90", "1", "1", "1", "-2,00", "x"],
            "Q": ["-4", "1", "1", "1", "1", "1"],
            "EAN": ["4006381333931", "", "4006381333931", "4006381333931", "4006381333931",
                    "4006381333932"],
            "S": ["", "SS26", "", "", "", ""],
            "D": ["15/03/2024", "", "", "", "", ""]}
    out, rep = run(fields, data, base=tmp_path)
    assert out.rows() == [{"sku": "A-1", "colour": "Nero", "price": Decimal("19.90"),
                           "stock": 0, "ean": "4006381333931", "season": "FW25",
                           "since": dt.date(2024, 3, 15)}]
    got = {(r.line, r.field): r.reason for r in rep.rejects()}
    assert got.keys() == {(11, "sku"), (12, "sku"), (13, "colour"), (14, "price"),
                          (15, "price")}
    assert "required field sku is empty" in got[(11, "sku")]
    assert "'999' is not in" in got[(13, "colour")] and "colours.csv" in got[(13, "colour")]
    assert "below the allowed 0" in got[(14, "price")]
    assert got[(15, "price")] == "'x' is not a valid decimal"
    # the bad EAN row (line 15) was reported once, for its first bad field
    assert rep.tally.rejected == 5
    assert next(rep.rejects()).values["SKU"] == ""  # original values kept


def test_bad_ean_is_rejected():
    out, rep = run({"ean": {"from": "E", "check": "ean13"}},
                   {"E": ["4006381333931", "4006381333932", "12345"]})
    assert [r["ean"] for r in out.rows()] == ["4006381333931"]
    assert {r.line for r in rep.rejects()} == {11, 12}


def test_profile_errors_in_mapping():
    with pytest.raises(ValidationError, match="unknown transform 'trimm'"):
        MapSpec.model_validate({"fields": {"a": {"from": "x", "apply": ["trimm"]}}})
    with pytest.raises(ValidationError, match="only one of from, value, format"):
        MapSpec.model_validate({"fields": {"a": {"from": "x", "value": 1}}})
    with pytest.raises(ValidationError, match="key 'sku' is not one of the mapped fields"):
        MapSpec.model_validate({"key": "sku", "fields": {"a": {"from": "x"}}})


def test_missing_input_field_rejects_the_file():
    from filebridge.errors import RejectedFile
    with pytest.raises(RejectedFile, match="PREZZO"):
        run({"p": {"from": "PREZZO"}}, {"PRICE": ["1"]})
