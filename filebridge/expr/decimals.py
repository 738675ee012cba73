"""Exact arithmetic on Arrow decimal and integer columns.

Arrow widens a decimal's precision at every operation (adding two
``decimal128(38, 2)`` needs 39 digits and fails), so operands are first narrowed
to the digits their largest value needs; results are widened back to 38 digits.
``+ - *`` are exact. Division is taken to ``DIVISION_SCALE`` decimals (more when
an operand has more) and rounded half away from zero, as ``round`` does: money
is then rounded explicitly, e.g. ``round(price / 1.22, 2)``.
Integers stay integers under ``+ - *`` (overflow is an error, never a wrap).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.expr.syntax import ExprError

Value: TypeAlias = pa.Array | pa.Scalar
DIVISION_SCALE = 6
ROUNDING = "half_towards_infinity"  # half away from zero: 2.345 -> 2.35, -2.345 -> -2.35
MAX = 38


def scale_of(v: Value) -> int:
    return int(v.type.scale)


def literal(d: Decimal) -> pa.Scalar:
    """A finite decimal constant with the digits it needs (1E+3 becomes 1000)."""
    exp = d.as_tuple().exponent
    if isinstance(exp, int) and exp > 0:
        d = d.quantize(Decimal(1))
    _, digits, exp = d.as_tuple()
    scale = max(0, -int(exp))
    precision = max(len(digits), scale + 1)
    return pa.scalar(d, pa.decimal128(min(precision, MAX), scale))


def _digits(v: Value) -> int:
    """Digits the largest value of ``v`` needs at its scale."""
    top = v.as_py() if isinstance(v, pa.Scalar) else pc.max(pc.abs(v)).as_py()
    if top is None:
        return 1
    return max(1, len(str(int(abs(top).scaleb(scale_of(v))))))


def narrow(v: Value) -> Value:
    s = scale_of(v)
    p = min(MAX, max(_digits(v), s + 1))
    return v.cast(pa.decimal128(p, s))


def widen(v: Value, scale: int | None = None) -> Value:
    s = scale_of(v) if scale is None else scale
    return v.cast(pa.decimal128(MAX, s))


def to_decimal(v: Value) -> Value:
    """Integers and decimals as decimals (integers exactly, scale 0)."""
    t = v.type
    if pa.types.is_decimal(t):
        return v
    if pa.types.is_integer(t):
        return v.cast(pa.decimal128(19, 0))
    raise ExprError(f"expected a number, got {t}")


def arith(op: str, a: Value, b: Value) -> Value:
    """``a op b`` for + - * on integers/decimals."""
    fn = {"+": pc.add_checked, "-": pc.subtract_checked, "*": pc.multiply_checked}[op]
    if pa.types.is_integer(a.type) and pa.types.is_integer(b.type):
        try:
            return fn(a.cast(pa.int64()), b.cast(pa.int64()))
        except pa.ArrowInvalid as e:
            raise ExprError(f"integer overflow in {op} ({e})") from None
    a, b = narrow(to_decimal(a)), narrow(to_decimal(b))
    try:
        return widen(fn(a, b))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise ExprError(f"numbers too large for exact arithmetic ({e})") from None


def divide(a: Value, b: Value) -> tuple[Value, pa.Array | None]:
    """``a / b`` as a decimal; the mask of rows dividing by zero (their result null)."""
    a, b = to_decimal(a), to_decimal(b)
    target = max(DIVISION_SCALE, scale_of(a), scale_of(b))
    zero = pc.fill_null(pc.equal(b, pa.scalar(0, b.type)), False)
    hit = zero.as_py() if isinstance(zero, pa.Scalar) else pc.any(zero).as_py()
    if hit and isinstance(zero, pa.Scalar):
        n = 1 if isinstance(a, pa.Scalar) else len(a)
        return pa.nulls(n, pa.decimal128(MAX, target)), pa.array([True] * n)
    if hit:
        b = pc.if_else(zero, pa.scalar(1, b.type), b)
    a, b = narrow(a), narrow(b)
    sa, pb, sb = scale_of(a), b.type.precision, scale_of(b)
    # Arrow gives max(4, sa + pb - sb + 1) decimals, truncated: one more than the
    # target, so rounding the truncated value rounds the true quotient.
    extra = max(0, target + 1 - (sa + pb - sb + 1))
    if extra:
        a = a.cast(pa.decimal128(min(MAX, a.type.precision + extra), sa + extra))
    try:
        q = pc.divide(a, b)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise ExprError(f"numbers too large for exact division ({e})") from None
    q = pc.round(q, target, round_mode=ROUNDING).cast(pa.decimal128(MAX, target))
    if hit:
        q = pc.if_else(zero, pa.scalar(None, q.type), q)
    return q, (zero if hit else None)


def round_to(v: Value, digits: int) -> Value:
    t = v.type
    if pa.types.is_integer(t):
        return v
    if pa.types.is_floating(t):
        return pc.round(v, digits, round_mode=ROUNDING)
    if digits < scale_of(v):
        v = pc.round(v, digits, round_mode=ROUNDING)
    return narrow(v).cast(pa.decimal128(MAX, digits)) if digits > scale_of(v) else \
        v.cast(pa.decimal128(MAX, digits))


def rescale(v: pa.Array, scale: int) -> tuple[pa.Array, pa.Array | None]:
    """``v`` at exactly ``scale`` decimals; rows that would lose digits are null and
    returned as a mask (never rounded silently)."""
    v = to_decimal(v)
    s = scale_of(v)
    if s <= scale:
        return narrow(v).cast(pa.decimal128(MAX, scale)), None
    r = pc.round(v, scale, round_mode=ROUNDING)
    lost = pc.fill_null(pc.not_equal(r, v), False)
    out = r.cast(pa.decimal128(MAX, scale))
    if not pc.any(lost).as_py():
        return out, None
    return pc.if_else(lost, pa.scalar(None, out.type), out), lost


def to_integer(v: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """Decimals as integers when whole; the mask of rows that are not."""
    if pa.types.is_integer(v.type):
        return v.cast(pa.int64()), None
    whole, lost = rescale(v, 0)
    return whole.cast(pa.int64()), lost
