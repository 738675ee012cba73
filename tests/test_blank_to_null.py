"""_blank_to_null's shortcut gives what trimming and comparing every value gives."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from filebridge.layouts.types import _blank_to_null, _nothing_blank

PIECES = ["1", "12,50", "a b", " ", "\t", "\u00a0", "\u3000", "é", "-", "\x7f", ""]


def _slow(arr: pa.Array) -> pa.Array:
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


@pytest.mark.parametrize("seed", range(40))
def test_same_as_trimming_every_value(seed: int) -> None:
    rng = random.Random(seed)
    values = [None if rng.random() < 0.05 else
              "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 3)))
              for _ in range(rng.randint(1, 30))]
    arr = pa.array(values, rng.choice([pa.string(), pa.large_string()]))
    if seed % 4 == 0:
        arr = arr.slice(1)
    assert _blank_to_null(arr).to_pylist() == _slow(arr).to_pylist()


def test_the_shortcut_is_taken_only_when_nothing_is_blank() -> None:
    assert _nothing_blank(pa.array(["1", "a b", None, "x"]))
    assert not _nothing_blank(pa.array(["1", ""]))
    assert not _nothing_blank(pa.array(["1", " 2"]))
    assert not _nothing_blank(pa.array(["1\u00a0", "2"]))
    assert _nothing_blank(pa.array([" 1", "2"]).slice(1))
