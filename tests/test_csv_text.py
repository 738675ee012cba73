"""csv_text (Arrow's CSV writer with stand-ins) writes the bytes csv_lines does."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from filebridge.sinks.base import _STAND_INS, csv_lines, csv_text, guard_formulas

PIECES = ["a", "Z", "0", "12,50", "-3", "=SUM(A1)", "+1", "@x", "\t", " ", ";", ",", '"',
          '""', "\n", "\r\n", "\r", "é", "€", "日本", "|", "'", "\\", "\x01", "\x00", "x" * 20]


def _column(rng: random.Random, n: int, nulls: bool) -> pa.Array:
    values: list[str | None] = []
    for _ in range(n):
        if nulls and rng.random() < 0.05:
            values.append(None)
        elif rng.random() < 0.1:
            values.append("")
        else:
            values.append("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 4))))
    return pa.array(values, pa.string())


@pytest.mark.parametrize("seed", range(30))
def test_random_columns_match_csv_lines(seed: int) -> None:
    rng = random.Random(seed)
    delimiter = rng.choice([",", ";", "\t", "|"])
    newline = rng.choice(["\n", "\r\n"])
    n = rng.randint(1, 300)
    cols = [_column(rng, n, nulls=seed % 3 == 0) for _ in range(rng.randint(1, 6))]
    if seed % 2:
        cols = [guard_formulas(c) for c in cols]
    expected = csv_lines(cols, delimiter, newline)
    assert bytes(csv_text(cols, delimiter, newline)) == expected


def test_a_row_with_a_null_cell_has_no_line_as_in_csv_lines() -> None:
    cols = [pa.array(["a", None, "c;"]), pa.array(["1", "2", None])]
    assert bytes(csv_text(cols, ";")) == csv_lines(cols, ";") == b"a;1\n"


def test_plain_columns_are_arrows_output_as_is() -> None:
    cols = [pa.array(["a", "b"]), pa.array(["1", ""]), pa.array([2, 3])]
    assert bytes(csv_text(cols, ";")) == b"a;1;2\nb;;3\n" == csv_lines(cols, ";")


def test_quoted_cells() -> None:
    cols = [pa.array(['say "hi"', "a;b", "two\nlines", "cr\r", "plain"])]
    expected = b'"say ""hi"""\n"a;b"\n"two\nlines"\n"cr\r"\nplain\n'
    assert bytes(csv_text(cols, ";")) == expected == csv_lines(cols, ";")


def test_data_holding_every_stand_in_falls_back() -> None:
    every = "".join(chr(b) for b in _STAND_INS)
    cols = [pa.array([every, 'a,"b"', ""]), pa.array(["x", "y", "z"])]
    assert bytes(csv_text(cols)) == csv_lines(cols)


def test_stand_ins_held_by_the_data_are_not_used() -> None:
    some = "".join(chr(b) for b in _STAND_INS[:6])
    cols = [pa.array([some + ",", '"' + some, "\n"])]
    assert bytes(csv_text(cols)) == csv_lines(cols)


def test_a_delimiter_of_several_bytes() -> None:
    cols = [pa.array(["a§b", "c"]), pa.array(["d", "e"])]
    assert bytes(csv_text(cols, "§")) == csv_lines(cols, "§") == '"a§b"§d\nc§e\n'.encode()


def test_no_rows() -> None:
    cols = [pa.array([], pa.string()), pa.array([], pa.string())]
    assert bytes(csv_text(cols)) == csv_lines(cols) == b""
