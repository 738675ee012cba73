"""IBM numeric encodings: the examples from as400.md, decoded exactly."""

import numpy as np
import pyarrow as pa
import pytest

from filebridge.layouts.numeric import binary, overpunch, packed, zoned


def m(*rows):
    return np.array([list(r) for r in rows], dtype=np.uint8)


def test_packed_examples_signs_and_empty_fields():
    values, bad = packed(m(b"\x00\x00\x00\x01\x90\x0c",   # SALE-PRICE 19.00 (implied 2)
                           b"\x00\x00\x00\x00\x00\x1d",   # QTY-SOLD -1
                           b"\x00\x00\x00\x00\x00\x1f",   # F = positive (IBM i)
                           b"\x40\x40\x40\x40\x40\x40",   # never filled
                           b"\x00\x00\x00\x00\x1a\x0c",   # A is not a digit
                           b"\x00\x00\x00\x00\x00\x1b"))  # B sign: only when tolerated
    assert values.to_pylist() == [1900, -1, 1, None, None, None]
    assert bad.tolist() == [False, False, False, False, True, True]
    values, bad = packed(m(b"\x00\x00\x00\x00\x00\x1b", b"\x40\x40\x40\x40\x40\x40"),
                         lenient=True, on_empty="zero")
    assert values.to_pylist() == [-1, 0] and not bad.any()
    _, bad = packed(m(b"\x00\x00"), on_empty="reject")
    assert bad.tolist() == [True]


def test_packed_beyond_18_digits_stays_exact():
    raw = bytes.fromhex("1234567890123456789012345678901c")  # 31 digits
    values, bad = packed(m(raw))
    assert values.to_pylist()[0] == 1234567890123456789012345678901 and not bad.any()


def test_zoned_sign_positions():
    values, bad = zoned(m(b"\xf1\xf2\xf3\xf4\xc5", b"\xf1\xf2\xf3\xf4\xd5",
                          b"\xf1\xf2\xf3\xf4\xf5", b"\xf1\xc2\xf3\xf4\xf5"))
    assert values.to_pylist() == [12345, -12345, 12345, None] and bad.tolist()[3]
    values, _ = zoned(m(b"\xd1\xf2\xf3"), sign="leading")
    assert values.to_pylist() == [-123]
    values, _ = zoned(m(b"\xf1\xf2\x60", b"\x4e\xf1\xf2"), sign="trailing_separate")
    assert values.to_pylist() == [-12, None]
    values, _ = zoned(m(b"\x60\xf1\xf2"), sign="leading_separate")
    assert values.to_pylist() == [-12]


def test_binary_big_endian():
    values, _ = binary(m(b"\xff\xfe", b"\x00\x10"))
    assert values.to_pylist() == [-2, 16]
    values, _ = binary(m(b"\x00\x00\x01\x00"))
    assert values.to_pylist() == [256]
    values, _ = binary(m(b"\xff\xff\xfe", b"\x01\x00\x00"))  # 3 bytes, sign-extended
    assert values.to_pylist() == [-2, 65536]
    values, bad = binary(m(b"\xff" * 8), signed=False)  # beyond int64: not a value
    assert values.to_pylist() == [None] and bad.tolist() == [True]
    with pytest.raises(ValueError):
        binary(m(b"\x00" * 17))


def test_overpunch_tables_depend_on_the_code_page():
    values, bad = overpunch(pa.array(["1234E", "1234N", "12345", "000{", "000}", "9x"]))
    assert values.to_pylist() == [12345, -12345, 12345, 0, 0, None]
    assert bad is not None and bad.to_pylist() == [False] * 5 + [True]
    values, _ = overpunch(pa.array(["0012è", "001à", "1234N"]), "it")
    assert values.to_pylist() == [-120, 10, -12345]
    # Under the Italian table a '{' is not a sign: it must not pass as +0.
    _, bad = overpunch(pa.array(["001{"]), "it")
    assert bad is not None and bad.to_pylist() == [True]


@pytest.mark.parametrize("fmt,text", [
    ("*CYMD", "1240315"), ("CYYMMDD", "1240315"), ("*CMDY", "1031524"), ("*CDMY", "1150324"),
    ("*YMD", "240315"), ("*DMY", "150324"), ("*DMY", "15/03/24"), ("*MDY", "031524"),
    ("*YYMD", "20240315"), ("*MDYY", "03152024"), ("*DMYY", "15032024"), ("*JUL", "24075"),
    ("*LONGJUL", "2024075"), ("*CJUL", "124075"), ("*ISO", "2024-03-15"),
    ("*EUR", "15.03.2024"), ("*USA", "03/15/2024"), ("*JIS", "2024-03-15"),
])
def test_every_ibm_date_format(fmt, text):
    import datetime as dt

    from filebridge.layouts.types import parse_date
    values, bad = parse_date(pa.array([text]), format=fmt)
    assert values.to_pylist() == [dt.date(2024, 3, 15)] and bad is None


def test_two_digit_year_window_and_null_sentinels():
    import datetime as dt

    from filebridge.layouts.types import parse_date
    values, bad = parse_date(pa.array(["391231", "400101", "0", "999999", "0001-01-01"]),
                             format="*YMD")
    assert values.to_pylist() == [dt.date(2039, 12, 31), dt.date(1940, 1, 1), None, None, None]
    values, bad = parse_date(pa.array(["0000000", "1241301"]), format="*CYMD", nulls=[])
    assert bad is not None and bad.to_pylist() == [True, True]  # no sentinels: zeros are a bad date


def test_thousands_only_between_groups_of_three():
    from decimal import Decimal

    from filebridge.layouts.types import parse_decimal, parse_integer
    text = ["1.250,00", "1250,00", "-1.250.000,5", "12.50", "1.25", "1.2345,00", "125.000",
            "€ 1.250,00", ",5", None]
    values, bad = parse_decimal(pa.array(text), decimal=",", thousands=".")
    assert values.to_pylist() == [Decimal("1250.00"), Decimal("1250.00"),
                                  Decimal("-1250000.50"), None, None, None,
                                  Decimal("125000.00"), None, Decimal("0.50"), None]
    assert bad is not None
    assert bad.to_pylist() == [False, False, False, True, True, True, False, True, False,
                               False]
    values, bad = parse_integer(pa.array(["1.250", "12.5", "1250", "1.250-"]), thousands=".")
    assert values.to_pylist() == [1250, None, 1250, -1250]
    assert bad is not None and bad.to_pylist() == [False, True, False, False]
    values, bad = parse_decimal(pa.array(["1'250.75", "1 250.75"]), thousands="'")
    assert bad is not None
    assert values.to_pylist() == [Decimal("1250.75"), None] and bad.to_pylist() == [False, True]


def test_a_decimal_comma_refuses_a_point_that_is_not_the_thousands_separator():
    from decimal import Decimal

    from filebridge.layouts.types import parse_decimal
    # Read leniently, "1.250" would be 1.25 when the typist meant 1250.
    values, bad = parse_decimal(pa.array(["1.250", "1250,5", "12,50-"]), decimal=",")
    assert values.to_pylist() == [None, Decimal("1250.50"), Decimal("-12.50")]
    assert bad is not None and bad.to_pylist() == [True, False, False]


def test_a_bare_fraction_at_scale_0_is_a_reject_not_a_failed_batch():
    from decimal import Decimal

    from filebridge.layouts.types import parse_decimal
    # ".3" beside a row the fast cast refuses once failed the whole batch (ArrowInvalid).
    values, bad = parse_decimal(pa.array([".3", "3", "3.", "1 2", "-.8", None]), scale=0)
    assert values.to_pylist() == [None, Decimal("3"), Decimal("3"), None, None, None]
    assert bad is not None and bad.to_pylist() == [True, False, False, True, True, False]
    values, bad = parse_decimal(pa.array([".3", "1 2"]), scale=1)
    assert values.to_pylist() == [Decimal("0.3"), None]


def test_dates_typed_without_leading_zeros():
    import datetime as dt

    from filebridge.layouts.types import parse_date
    text = ["1/3/2027", "01/03/2027", "1/03/2027", "31/2/2027", "28/02/27", "28/02/0027"]
    values, bad = parse_date(pa.array(text), format="DMY")
    assert values.to_pylist() == [dt.date(2027, 3, 1)] * 3 + [None, None,
                                                             dt.date(27, 2, 28)]
    assert bad is not None and bad.to_pylist() == [False, False, False, True, True, False]
    values, bad = parse_date(pa.array(["2027-3-1", "202731"]), format="ISO")
    assert values.to_pylist() == [dt.date(2027, 3, 1), None]


@pytest.mark.parametrize("fmt", ["*CYMD", "*CMDY", "*CDMY", "*YMD", "*DMY", "*MDY", "*YYMD",
                                 "*MDYY", "*DMYY", "*JUL", "*LONGJUL", "*CJUL"])
def test_to_digits_is_what_parse_date_reads(fmt):
    import datetime as dt

    from filebridge.layouts.dates import to_digits
    from filebridge.layouts.types import parse_date
    days = [dt.date(2027, 2, 28), dt.date(1999, 12, 31), dt.date(2039, 1, 1)]
    values, bad = parse_date(pa.array([to_digits(d, fmt) for d in days]), format=fmt)
    assert values.to_pylist() == days and bad is None
    # Two-digit years without a century digit stop at 2039, as on IBM i.
    two_digit_year = fmt in ("*YMD", "*DMY", "*MDY", "*JUL")
    assert (to_digits(dt.date(2045, 1, 1), fmt) is None) == two_digit_year
