"""Numbering a batch for the sinks keeps its input rows as read, without copying."""

import pyarrow as pa

from filebridge.records import Batch, FileReport, Rows


def test_numbered_batch_keeps_the_raw_rows_behind_a_filter() -> None:
    raw = pa.table({"QTY": ["1", "x", "3", "4"]})
    typed = pa.table({"QTY": pa.array([1, None, 3, 4], pa.int64())})
    batch = Batch(typed, pa.array([10, 11, 12, 13], pa.int64()), raw)
    kept = batch.filter(pa.array([True, False, False, True]))
    numbered = Rows(FileReport("f.txt")).add(kept)
    assert numbered._raw is raw  # not taken yet: only a reject reads it
    assert numbered.index is not None and numbered.index.to_pylist() == [0, 1]
    assert numbered.lines.to_pylist() == [10, 13]
    assert numbered.raw_rows([1]) == [{"QTY": "4"}]
    assert numbered.raw is not None and numbered.raw.column("QTY").to_pylist() == ["1", "4"]
