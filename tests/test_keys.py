"""One row per key: later rows of a key are rejected naming both lines, within a
batch and across batches, each rejected row carrying its own input values."""

from __future__ import annotations

import pyarrow as pa

from filebridge.keys import UniqueKeys, key_hashes
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


def test_key_hashes_agree_however_the_keys_are_held() -> None:
    """The same key hashes the same in a slice, beside other widths, and beside a null;
    keys differing only in trailing NULs or spaces (the padding) hash apart."""
    from filebridge.keys import key_hashes

    keys = ["A-1", "A-1\x00", "A-1 ", "a-much-longer-key-0001", "", None, "A-1"]
    whole = key_hashes(pa.array(keys, pa.string()))
    assert whole[0] == whole[6] and whole[5] == 0
    assert len({int(h) for h in whole[:5]}) == 5
    for i in range(len(keys)):
        alone = key_hashes(pa.array(keys, pa.string()).slice(i, 1))
        assert alone[0] == whole[i]
    # Non-ASCII text takes the byte-wise path: still equal keys, equal hashes.
    text = key_hashes(pa.array(["città", "città", "citta", *keys], pa.large_string()))
    assert text[0] == text[1] != text[2]
    assert list(text[3:]) == list(whole)  # beside non-ASCII keys as alone


def test_a_key_longer_than_the_word_path_hashes_alike_alone_and_beside_others() -> None:
    """Keys over 64 bytes are hashed one by one (a huge cell must not pad the whole
    batch to its width); their hash still depends on the key alone."""
    from filebridge.keys import key_hashes

    long = "L" * 65
    keys = ["A-1", long, long + "x", "x" * 5000, None, long]
    whole = key_hashes(pa.array(keys, pa.string()))
    assert whole[1] == whole[5] and whole[4] == 0
    assert len({int(h) for h in whole[:4]}) == 4
    for i in range(len(keys)):
        assert key_hashes(pa.array(keys, pa.string()).slice(i, 1))[0] == whole[i]
    report = FileReport("x.csv")
    kept = UniqueKeys("sku").check(_batch(keys, 1), report)
    assert len(kept) == 5 and report.tally.rejected == 1


def test_repeats_of_non_ascii_keys_and_many_batches() -> None:
    report = FileReport("x.csv")
    unique = UniqueKeys("sku")
    keys: list[str | None] = [f"più-{i}" if i % 2 else f"k-{i:05d}" for i in range(3000)]
    kept = 0
    for start in range(0, 3000, 500):  # six batches: runs merge as they grow
        kept += len(unique.check(_batch(keys[start:start + 500], start + 1), report))
    again = unique.check(_batch(keys[::7], 3001), report)
    assert kept == 3000 and len(again) == 0
    assert report.tally.rejected == len(keys[::7])


def test_key_hashes_are_the_ones_snapshots_stored() -> None:
    """mode: changes snapshots store these hashes under KEY_HASH's name: a change to
    key_hashes must rename KEY_HASH (then update these figures), or a stored snapshot's
    keys would no longer be found and every row would be sent again."""
    from filebridge.keys import KEY_HASH, key_hashes

    keys = pa.array(["A-1", "SKU-000123-XL", "città", "L" * 65, ""], pa.string())
    assert KEY_HASH == "words64-1"
    assert [int(h) for h in key_hashes(keys)] == [
        8113344219561396205, 12263008323111153777, 17809906011859906692,
        12962531900422511995, 0]


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


def test_kept_rows_carry_their_key_hashes_through_filter_and_take() -> None:
    """mode: changes looks keys up by the hashes the check computed (Batch.keyed): they
    must stay aligned with the rows whatever drops or reorders them."""
    report = FileReport("x.csv")
    kept = UniqueKeys("sku").check(_batch(["a", "b", "a", None, "c", "d"], 1), report)
    assert kept.keyed is not None and kept.keyed.field == "sku"

    def aligned(batch: Batch) -> bool:
        assert batch.keyed is not None
        return batch.keyed.hashes.tolist() == key_hashes(batch.column("sku")).tolist()
    assert aligned(kept)
    assert aligned(kept.filter(pa.array([True, None, False, True, True])))
    assert aligned(kept.take([4, 0, 2]))
    assert kept.with_table(kept.table).keyed is None  # other columns: other keys maybe


def test_a_later_batch_finds_keys_kept_after_a_dropped_row() -> None:
    """A batch's kept keys are remembered without its dropped rows: a later repeat
    still finds its first line, whatever rows were dropped before it."""
    report = FileReport("x.csv")
    unique = UniqueKeys("sku")
    unique.check(_batch(["a", "a", None, "b", "c"], 1), report)  # line 2 dropped, 3 null
    kept = unique.check(_batch(["c", "d", "b"], 6), report)
    assert kept.column("sku").to_pylist() == ["d"]
    got = sorted((r.line, r.reason) for r in report._pending)
    assert got == [(2, "sku a appears twice: line 1 and line 2; line 1 is kept"),
                   (6, "sku c appears twice: line 5 and line 6; line 5 is kept"),
                   (8, "sku b appears twice: line 4 and line 8; line 4 is kept")]
