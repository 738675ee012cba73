"""COMP-1/COMP-2 floats into decimals, against an exact oracle written from the
format's definition with Python fractions (as enthought/ibm2ieee's tests do:
value = (-1)^s * fraction / 16^6 (or 16^14) * 16^(exponent - 64)), and against
known vectors."""

import random
import struct
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from filebridge.layouts.floats import decode


def rows(*raw: bytes) -> np.ndarray:
    return np.array([list(r) for r in raw], dtype=np.uint8)


def ibm_exact(raw: bytes) -> tuple[Fraction, Fraction]:
    """(value, unit in the last place) of an IBM hexadecimal float."""
    bits, n = int.from_bytes(raw, "big"), len(raw) * 8
    fraction = bits & ((1 << (n - 8)) - 1)
    exponent = (bits >> (n - 8)) & 0x7F
    ulp = Fraction(16) ** (exponent - 64) / Fraction(2) ** (n - 8)
    value = fraction * ulp
    return (-value if bits >> (n - 1) else value), ulp


def shortest(value: Fraction, ulp: Fraction) -> Decimal:
    """The decimal of fewest significant digits within half an ulp of value."""
    if value == 0:
        return Decimal(0)
    for digits in range(1, 20):
        exp10 = len(str(abs(value.numerator) // abs(value.denominator))) - digits \
            if abs(value) >= 1 else -digits - (len(str(abs(value.denominator) //
                                                       abs(value.numerator))) - 1)
        for e in (exp10 - 1, exp10, exp10 + 1):
            q = round(value / Fraction(10) ** e)  # Fraction rounds half to even
            if abs(q * Fraction(10) ** e - value) <= ulp / 2:
                return Decimal(q).scaleb(e)
    raise AssertionError("no decimal found")


@pytest.mark.parametrize("hexbytes, value", [
    ("C276A000", "-118.625"),           # IBM's and Wikipedia's example
    ("41100000", "1"),
    ("4019999A", "0.1"),                # 0.100000024: shortest within half an ulp
    ("00000000", "0"), ("80000000", "0"), ("7F000000", "0"),  # fraction 0: zero
    ("4110000000000000", "1"),
    ("C276A00000000000", "-118.625"),
])
def test_ibm_vectors(hexbytes, value):
    dec, bad = decode(rows(bytes.fromhex(hexbytes)), "ibm", 9)
    assert dec.to_pylist() == [Decimal(value)] and not bad.any()


def test_cobrix_ibm_single_vector_is_322_not_5():
    # cobrix's FloatingPointDecodersSpec expects 5.045883 for 43142EFC: its exponent
    # mask is wrong. The same leading bytes as a double give its own 322.936717.
    single, _ = decode(rows(bytes.fromhex("43142EFC")), "ibm", 4)
    assert single.to_pylist() == [Decimal("322.9365")]
    double, _ = decode(rows(bytes.fromhex("43142EFCCAF709B7")), "ibm", 9)
    assert abs(double.to_pylist()[0] - Decimal("322.936717")) < Decimal("1e-6")


def test_ibm_single_is_the_shortest_decimal_of_the_exact_value():
    rnd = random.Random(20261127)
    raw = [bytes([rnd.choice([0x00, 0x80]) | rnd.randint(0x3A, 0x46)]) +
           rnd.randbytes(3) for _ in range(3000)]
    dec, bad = decode(rows(*raw), "ibm", 30)
    assert not bad.any()
    for r, got in zip(raw, dec.to_pylist(), strict=True):
        value, ulp = ibm_exact(r)
        want = shortest(value, ulp)
        assert got == want, (r.hex(), got, want)
        assert abs(Fraction(got) - value) <= ulp / 2


def test_ibm_double_is_the_nearest_ieee_double_printed_shortest():
    rnd = random.Random(7)
    raw = [bytes([rnd.randint(0x40, 0x46) | rnd.choice([0, 0x80])]) + rnd.randbytes(7)
           for _ in range(2000)]
    dec, bad = decode(rows(*raw), "ibm", 24)
    assert not bad.any()
    for r, got in zip(raw, dec.to_pylist(), strict=True):
        value, _ = ibm_exact(r)
        nearest = float(value)  # correctly rounded
        assert got == Decimal(repr(nearest)), (r.hex(), got, nearest)
        assert abs(Fraction(got) - value) <= abs(value) * Fraction(1, 2 ** 52)


def test_ieee_single_and_double_round_trip_shortest():
    rnd = random.Random(3)
    singles = [struct.pack(">f", rnd.uniform(-1e6, 1e6)) for _ in range(500)]
    doubles = [struct.pack(">d", rnd.uniform(-1e9, 1e9)) for _ in range(500)]
    dec, bad = decode(rows(*singles), "ieee754", 18)
    assert not bad.any()
    for r, got in zip(singles, dec.to_pylist(), strict=True):
        f32 = np.frombuffer(r, ">f4")[0]
        assert np.float32(str(got)) == f32  # reads back as the same float
        assert got == Decimal(np.format_float_positional(f32, unique=True, trim="-"))
    dec, _ = decode(rows(*doubles), "ieee754", 18)
    for r, got in zip(doubles, dec.to_pylist(), strict=True):
        assert got == Decimal(repr(struct.unpack(">d", r)[0]))
    # Little-endian (data from a PC): the same values byte-reversed.
    le, _ = decode(rows(*(d[::-1] for d in doubles)), "ieee754_le", 18)
    assert le.to_pylist() == dec.to_pylist()


def test_scale_rounds_half_even_and_overflow_is_bad():
    raw = [struct.pack(">d", v) for v in (0.125, 0.135, -2.5, 1e36, 1e-30)]
    dec, bad = decode(rows(*raw), "ieee754", 2)
    assert dec.to_pylist() == [Decimal("0.12"), Decimal("0.14"), Decimal("-2.50"), None,
                               Decimal("0.00")]
    assert bad.tolist() == [False, False, False, True, False]  # 1e36 needs 39 digits at scale 2


def test_ieee_nan_and_infinity_are_bad():
    raw = [struct.pack(">f", v) for v in (float("nan"), float("inf"), -1.5)]
    dec, bad = decode(rows(*raw), "ieee754", 3)
    assert dec.to_pylist() == [None, None, Decimal("-1.500")]
    assert bad.tolist() == [True, True, False]
