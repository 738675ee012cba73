"""Files for the ERP: one writer for acks, rejects and movement files, one rule for
what the code page cannot hold (filebridge/erpfile.py)."""

import pytest

from filebridge import erpfile
from filebridge.layouts.fixed import FixedField


def test_free_text_is_fitted_to_the_code_page():
    assert erpfile.fit("Crème brûlée €5", "cp1252") == "Crème brûlée €5"
    assert erpfile.fit("Crème brûlée €5 ✓", "ascii") == "Creme brulee ?5 ?"
    assert erpfile.fit("Größe", "cp037") == "Größe"  # EBCDIC Latin-1 has them


def test_data_the_erp_matches_on_is_never_changed():
    fields = {"sku": FixedField.model_validate({"start": 1, "length": 10}),
              "qty": FixedField.model_validate({"start": 11, "length": 5, "type": "integer"})}
    assert erpfile.fixed([{"sku": "A-1", "qty": 3}], fields, "cp1252") == \
        b"A-1       00003\r\n"
    with pytest.raises(UnicodeEncodeError, match="cannot be written in ascii"):
        erpfile.fixed([{"sku": "Ä-1", "qty": 3}], fields, "ascii")
    with pytest.raises(UnicodeEncodeError, match="left as it is"):
        erpfile.delimited([{"sku": "✓"}], ["sku"], ";", "cp1252")


def test_delimited_guards_formulas_and_writes_the_header_once():
    data = erpfile.delimited([{"a": "=1+1", "b": "-5"}, {"a": "x;y", "b": None}], ["a", "b"],
                             ";", "utf-8")
    assert data.decode() == "a;b\n'=1+1;-5\n\"x;y\";\n"
    assert erpfile.delimited([], ["a"], ";", "utf-8", header=False) == b""
