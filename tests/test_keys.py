"""One row per key: later rows of a key are rejected naming both lines, within a
batch and across batches, each rejected row carrying its own input values."""

from __future__ import annotations

import pyarrow as pa

from filebridge.keys import UniqueKeys
from filebridge.records import Batch, FileReport


def _batch(keys: list[str | None], first_line: int) -> Batch:
    lines = list(range(first_line, first_line + len(keys)))
    return Batch(pa.table({"sku": pa.array(keys, pa.string()), "qty": pa.array(lines)}),
                 pa.array(lines, pa.int64()))


def test_repeats_within_and_across_batches() -> None:
    report = FileReport("x.csv")
    unique = UniqueKeys("sku")
    kept1 = unique.check(_batch(["a", "b", "a", None, None], 1), report)
    kept2 = unique.check(_batch(["c", "b", "a", "c"], 6), report)
    assert kept1.column("sku").to_pylist() == ["a", "b", None, None]
    assert kept2.column("sku").to_pylist() == ["c"]
    got = [(r.line, r.reason, r.values["qty"]) for r in report._pending]
    assert got == [
        (3, "sku a appears twice: line 1 and line 3; line 1 is kept", 3),
        (7, "sku b appears twice: line 2 and line 7; line 2 is kept", 7),
        (8, "sku a appears twice: line 1 and line 8; line 1 is kept", 8),
        (9, "sku c appears twice: line 6 and line 9; line 6 is kept", 9),
    ]
    assert report.tally.rejected == 4


def test_many_repeats_each_name_their_first_line() -> None:
    report = FileReport("x.csv")
    unique = UniqueKeys("sku")
    keys: list[str | None] = [f"k{i}" for i in range(5000)]
    unique.check(_batch(keys, 1), report)
    kept = unique.check(_batch(keys[::-1], 5001), report)
    assert len(kept) == 0 and report.tally.rejected == 5000
    first = report._pending[0]
    assert (first.line, first.values["sku"]) == (5001, "k4999")
    assert first.reason.endswith("line 5000 and line 5001; line 5000 is kept")


def test_repeats_of_early_batches_found_after_the_runs_merge(monkeypatch) -> None:
    """Many batches (the sorted runs merge several times), hashes made to collide:
    each repeat names the line that first had its key, never another key's."""
    import numpy as np

    import filebridge.keys as keys_mod

    real = keys_mod.key_hashes
    monkeypatch.setattr(keys_mod, "key_hashes", lambda col: real(col) % np.uint64(5))
    report = FileReport("x.csv")
    unique = UniqueKeys("sku")
    line = 1
    for b in range(20):
        keys: list[str | None] = [f"k{b}-{i}" for i in range(50)]
        if b:
            keys += [f"k{b // 2}-{b}"]  # a key of an earlier batch, merged away since
        unique.check(_batch(keys, line), report)
        line += len(keys)
    got = {r.values["sku"]: r.reason for r in report._pending}
    assert len(got) == 19
    for b in range(1, 20):
        first = (b // 2) * 50 + (b // 2 - 1 if b // 2 else 0) + b + 1
        assert got[f"k{b // 2}-{b}"].endswith(f"line {first} is kept"), (b, got[f"k{b // 2}-{b}"])
