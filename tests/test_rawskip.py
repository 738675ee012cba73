"""Records delivered unchanged are skipped undecoded (filebridge/rawskip.py), and a
day of files comes out exactly as without the skip: the same outputs, rejects and
counts, file by file, and never a changed record left out."""

from __future__ import annotations

import copy
import csv
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_profile

from filebridge import rawskip
from filebridge.job import Job
from filebridge.profile import load_profile
from filebridge.runner import run_files

LAYOUT = {"ART": {"start": 1, "length": 6}, "DESC": {"start": 7, "length": 12},
          "PRICE": {"start": 19, "length": 7, "type": "decimal", "implied": True},
          "QTY": {"start": 26, "length": 5, "type": "integer"}}
N = 6000  # 32-byte records: six blocks of 64 KiB


def profile(**changes: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "name": "art",
        "source": {"kind": "local", "path": "../inbox", "pattern": ["*.txt"],
                   "ready": {"stable_for": "0s"}},
        "read": {"format": "fixed", "encoding": "cp1252", "chunk_size": 65536,
                 "fields": copy.deepcopy(LAYOUT), "filter": [{"field": "QTY", "min": 0}]},
        "map": {"key": "sku", "fields": {
            "sku": {"from": "ART", "required": True},
            "title": {"from": "DESC", "apply": ["trim"]},
            "price": {"from": "PRICE", "min": 0},
            "stock": {"from": "QTY"}}},
        "write": [{"format": "csv", "path": "../out/{stem}.csv", "mode": "changes"}],
    }
    p.update(changes)
    return p


def rec(art: str, desc: str, price: int, qty: int | str) -> str:
    return f"{art:<6}{desc:<12}{price:07d}{qty:>5}"


def catalog() -> dict[str, str]:
    """The morning's catalog by key: a record per article."""
    return {f"A{i:05d}": rec(f"A{i:05d}", f"Art {i}", 100 + i, i % 50) for i in range(N)}


class Day:
    """One working folder through which the day's files go, with or without skip."""

    def __init__(self, root: Path, skip: bool, monkeypatch: pytest.MonkeyPatch):
        self.root, self.skip, self.mp = root, skip, monkeypatch
        for d in ("profiles", "inbox"):
            (root / d).mkdir(parents=True)
        self.prof = write_profile(root, profile())
        self.skipped: list[int] = []

    def run(self, name: str, lines: list[str]) -> dict:
        (self.root / "inbox" / name).write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
        counted: list[int] = []
        state = rawskip.Skip.state

        def spy(skip: rawskip.Skip) -> dict:
            counted.append(skip.count)
            return state(skip)
        with self.mp.context() as m:
            m.setattr(rawskip, "ENABLED", self.skip)
            m.setattr(rawskip.Skip, "state", spy)
            (outcome,) = run_files(Job(load_profile(self.prof)), [])
        self.skipped.append(sum(counted))
        stem = name.rsplit(".", 1)[0]
        fb = self.root / "profiles" / "feedback"
        out = self.root / "out" / f"{stem}.csv"
        rejects = fb / f"{stem}.rejects.csv"
        ack = _rows(fb / f"{stem}.ack.csv")
        for row in ack:
            row.pop("processed")
        return {"status": outcome.status, "tally": outcome.tally.as_dict(),
                "out": out.read_bytes() if out.exists() else None,
                "rejects": rejects.read_bytes() if rejects.exists() else None, "ack": ack}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def _sent(result: dict) -> list[tuple[str, str, str]]:
    text = result["out"].decode()
    return [(r["sku"], r["price"], r["stock"]) for r in csv.DictReader(text.splitlines())]


def test_a_day_of_files_is_delivered_as_without_the_skip(tmp_path, monkeypatch):
    monkeypatch.delenv("FILEBRIDGE_LEDGER", raising=False)
    with_skip = Day(tmp_path / "skip", True, monkeypatch)
    without = Day(tmp_path / "full", False, monkeypatch)
    base = catalog()
    keys = list(base)

    def both(name: str, lines: list[str]) -> dict:
        a, b = with_skip.run(name, lines), without.run(name, lines)
        assert a == b, name
        return a

    # 06:00 the full export: a bad quantity (rejected), a negative one (filtered out),
    # a key listed twice (the second rejected).
    morning = list(base.values())
    morning[10] = rec("A00010", "Art 10", 110, "1x")
    morning[11] = rec("A00011", "Art 11", 111, -1)
    morning.append(base["A00005"])
    first = both("ART_0600.txt", morning)
    assert first["tally"] == {"read": N + 1, "sent": N - 2, "unchanged": 0, "rejected": 2,
                              "skipped": 1, "queued": 0}
    assert with_skip.skipped[-1] == 0  # nothing saved yet to skip by

    # 09:00 1% of the prices changed, five articles added, three gone, a block moved.
    day = dict(base)
    changed = keys[::100]
    for k in changed:
        i = int(k[1:])
        day[k] = rec(k, f"Art {i}", 200 + i, i % 50)
    for k in keys[-3:]:
        del day[k]
    new = [f"B{i:05d}" for i in range(5)]
    for k in new:
        day[k] = rec(k, "New", 999, 1)
    lines = list(day.values())
    lines = lines[3000:4000] + lines[:3000] + lines[4000:]
    nine = both("ART_0900.txt", lines)
    # The bad and the filtered record of the morning are fixed now: sent too.
    expected = sorted([*changed, *new, "A00010", "A00011"])
    assert sorted(s for s, _, _ in _sent(nine)) == expected
    assert nine["tally"]["sent"] == len(expected)
    assert nine["tally"]["unchanged"] == len(day) - len(expected)
    assert with_skip.skipped[-1] == nine["tally"]["unchanged"]

    # 12:00 repeats and the duplicate check: the same records, and
    # - an unchanged record again, blocks later (a repeat: rejected);
    # - a changed record of a key just before its unchanged twin, in the same block
    #   (the changed one is kept and sent, the unchanged twin rejected);
    # - a changed record just after its unchanged twin (rejected: nothing to send);
    # - an unchanged record whose key a changed record had in an earlier block;
    # - an unchanged record twice in one block (the second rejected).
    noon = list(day.values())
    at = noon.index(day["A02000"])
    noon.insert(at, rec("A02000", "Art 2000", 7, 7))
    at = noon.index(day["A02500"])
    noon.insert(at + 1, rec("A02500", "Art 2500", 8, 8))
    noon.insert(5, rec("A05900", "Art 5900", 9, 9))
    noon.append(day["A00001"])
    at = noon.index(day["A03000"])
    noon.insert(at + 2, day["A03000"])
    twelve = both("ART_1200.txt", noon)
    assert sorted(_sent(twelve)) == [("A02000", "0.07", "7"), ("A05900", "0.09", "9")]
    reasons = twelve["rejects"].decode()
    assert "sku A02000 appears twice" in reasons and "sku A02500 appears twice" in reasons
    assert "sku A05900 appears twice" in reasons and "sku A00001 appears twice" in reasons
    assert "sku A03000 appears twice" in reasons
    assert twelve["tally"]["rejected"] == 5
    assert with_skip.skipped[-1] > N // 2

    # 13:00 the 09:00 price changes are taken back: the morning's records again,
    # whose entries are still saved (patches only add), and the snapshot says they
    # changed: every one of them is sent.
    night = [base[k] if k in base else day[k] for k in day]
    thirteen = both("ART_1300.txt", night)
    assert sorted(s for s, _, _ in _sent(thirteen)) == sorted(changed)
    assert with_skip.skipped[-1] == len(day) - len(changed)

    # 15:00 the mapping changed (titles in capitals): nothing may be skipped by what
    # the old mapping made, and every title is sent again.
    for d in (with_skip, without):
        p = profile()
        p["map"]["fields"]["title"]["apply"] = ["trim", "upper"]
        write_profile(d.root, p)
    fifteen = both("ART_1500.txt", list(day.values()))
    assert with_skip.skipped[-1] == 0
    assert fifteen["tally"]["sent"] == len(day)

    # 18:00 a short line (a transfer that dropped trailing blanks) makes one block
    # read line by line; the others are still skipped.
    evening = list(day.values())
    evening[4500] = evening[4500][:25] + evening[4500][25:].strip()  # "   45" -> "45"
    eighteen = both("ART_1800.txt", evening)
    assert eighteen["tally"]["unchanged"] == len(day)
    assert 0 < with_skip.skipped[-1] < len(day)


def test_a_snapshot_cleared_under_the_skip_sends_everything(workdir, monkeypatch):
    """The entries say what a record maps to; whether that is unchanged is the
    output's snapshot's to say. Cleared, every record is sent again."""
    monkeypatch.setattr(rawskip, "ENABLED", True)
    prof = write_profile(workdir, profile())
    lines = list(catalog().values())
    (workdir / "inbox" / "A.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    run_files(Job(load_profile(prof)), [])
    db = sqlite3.connect(workdir / "profiles" / "filebridge.db")
    with db:
        db.execute("DELETE FROM snapshots WHERE sink != ?", (rawskip.SAVED_AS,))
        db.execute("DELETE FROM snapshot_patches WHERE sink != ?", (rawskip.SAVED_AS,))
    assert db.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 1
    db.close()
    lines.append(rec("Z1", "Not a repeat", 1, 1))  # another file, not the same again
    (workdir / "inbox" / "B.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    (outcome,) = run_files(Job(load_profile(prof)), [])
    assert outcome.tally.sent == N + 1


def test_two_outputs_and_a_second_patch(workdir, monkeypatch):
    """Two outputs (each snapshot must vouch for a skipped record), and entries saved
    as patches over several files."""
    monkeypatch.setattr(rawskip, "ENABLED", True)
    p = profile()
    p["write"].append({"format": "template", "path": "../out/{stem}.txt", "mode": "changes",
                       "text": "{% for r in records %}{{ r.sku }}={{ r.price }}\n{% endfor %}"})
    prof = write_profile(workdir, p)
    base = catalog()
    sent = []
    for n, step in enumerate((0, 1, 2, 3)):
        day = dict(base)
        for k in list(base)[step * 7::500]:
            day[k] = rec(k, "Changed", step, 1)
        (workdir / "inbox" / f"F{n}.txt").write_bytes(
            ("\r\n".join(day.values()) + "\r\n").encode())
        (outcome,) = run_files(Job(load_profile(prof)), [])
        text = (workdir / "out" / f"F{n}.txt").read_text()
        sent.append((outcome.tally.sent, len(text.splitlines())))
        base = day
    assert sent[0] == (N, N)
    assert all(s == (12, 12) for s in sent[1:]), sent
    db = sqlite3.connect(workdir / "profiles" / "filebridge.db")
    patches = db.execute("SELECT count(*) FROM snapshot_patches WHERE sink=?",
                         (rawskip.SAVED_AS,)).fetchone()[0]
    db.close()
    assert patches == 3


@pytest.mark.parametrize("change", [
    {"write": [{"format": "csv", "path": "../out/{stem}.csv", "mode": "changes",
                "empty": True}]},
    {"write": [{"format": "csv", "path": "../out/{stem}.csv"}]},
    {"write": [{"format": "shopify_csv", "path": "../out/{stem}.csv", "mode": "changes"}]},
])
def test_profiles_that_need_every_row_are_decoded_in_full(workdir, change):
    p = profile(**change)
    if change["write"][0]["format"] == "shopify_csv":
        p["map"]["fields"] = {"sku": {"from": "ART"}, "title": {"from": "DESC"},
                              "price": {"from": "PRICE"}}
    prof = write_profile(workdir, p)
    assert Job(load_profile(prof)).skip_stamp is None


def test_a_mapping_that_reads_today_is_decoded_in_full(workdir):
    p = profile()
    p["map"]["fields"]["seen"] = {"expr": "today"}
    prof = write_profile(workdir, p)
    assert Job(load_profile(prof)).skip_stamp is None
    assert Job(load_profile(write_profile(workdir, profile()))).skip_stamp is not None


def test_record_hashes_tell_every_byte_and_the_width():
    rng = np.random.default_rng(7)
    rows = rng.integers(32, 127, (64, 30), dtype=np.uint8)
    h1, h2 = rawskip.record_hashes(rows)
    assert len(set(h1.tolist())) == 64 and len(set(h2.tolist())) == 64
    # The same bytes in a strided view of a wider matrix hash alike.
    wide = np.zeros((64, 32), np.uint8)
    wide[:, :30] = rows
    assert all(np.array_equal(a, b) for a, b in
               zip(rawskip.record_hashes(wide[:, :30]), (h1, h2), strict=True))
    for pos in range(30):
        changed = rows.copy()
        changed[:, pos] ^= 1
        c1, c2 = rawskip.record_hashes(changed)
        assert not (c1 == h1).any() and not (c2 == h2).any(), pos
    # A trailing NUL is not padding: another width, another hash.
    longer = np.zeros((64, 31), np.uint8)
    longer[:, :30] = rows
    l1, _ = rawskip.record_hashes(longer)
    assert not (l1 == h1).any()


def test_entries_one_per_record_and_none_for_a_torn_one():
    """A record noted twice is one entry; a record hash whose entries disagree has
    none (not expected: it would take two records hashing alike in 64 bits)."""
    raw = np.array([1, 2, 2, 3, 3, 3, 4], np.uint64)
    kh = np.array([5, 6, 6, 7, 7, 7, 8], np.uint64)
    check = np.array([10, 20, 20, 30, 30, 31, 40], np.uint64)
    d = rawskip.Delivered([raw, kh, check], 7, 0, 0)
    assert d.raw.tolist() == [1, 2, 4] and d.check.tolist() == [10, 20, 40]
    entry, found = d.find(np.array([4, 3, 2, 9], np.uint64))
    assert found.tolist() == [True, False, True, False]
    assert d.khash[entry[found]].tolist() == [8, 6]


def test_entries_are_saved_uncompressed_and_read_back(workdir, monkeypatch):
    monkeypatch.setattr(rawskip, "ENABLED", True)
    prof = write_profile(workdir, profile())
    (workdir / "inbox" / "A.txt").write_bytes(
        ("\r\n".join(catalog().values()) + "\r\n").encode())
    job = Job(load_profile(prof))
    run_files(job, [])
    db = sqlite3.connect(workdir / "profiles" / "filebridge.db")
    (blob,) = db.execute("SELECT data FROM snapshots WHERE sink=?",
                         (rawskip.SAVED_AS,)).fetchone()
    db.close()
    assert len(blob) >= N * 24  # 3 x 8 bytes an entry, not compressed
    stamp = job.skip_stamp
    assert stamp is not None
    d = rawskip.Delivered.load(job.ledger, "art", stamp)
    assert d is not None and len(d.raw) == N
    assert rawskip.Delivered.load(job.ledger, "art", "another fingerprint") is None


def test_a_record_sharing_only_the_first_hash_is_decoded(monkeypatch):
    """Two records whose first hashes collide: the entry's row hash comes back right
    only through the second, so the other record is decoded, not skipped."""
    import pyarrow as pa

    from filebridge.delta_index import KeyIndex, sorted_table
    from filebridge.keys import UniqueKeys
    from filebridge.records import FileReport, Rows

    row_hash = np.uint64(0xABCDEF)
    index = KeyIndex.of(sorted_table(pa.array(["K1"]), np.array([row_hash], np.uint64)))
    assert index is not None
    rows = np.frombuffer(b"K1  same  K1  other ", np.uint8).reshape(2, 10)
    first, second = rawskip.record_hashes(rows[:1])
    # The second record is made to collide with the first in the first hash only.
    monkeypatch.setattr(rawskip, "record_hashes", lambda r: (
        np.repeat(first, len(r)), np.concatenate([second, second + np.uint64(1)])[:len(r)]))
    delivered = rawskip.Delivered([first, index.sorted.copy(), second ^ row_hash], 1, 0, 0)
    report = FileReport("x")
    skip = rawskip.Skip("stamp", delivered, [index], UniqueKeys("sku", index),
                        Rows(report), report)
    mask = skip.block(rows, 1, lambda b: {})
    assert mask is not None and mask.tolist() == [True, False]
    # The same two the other way round: the first is not the delivered record.
    monkeypatch.setattr(rawskip, "record_hashes", lambda r: (
        np.repeat(first, len(r)), np.concatenate([second + np.uint64(1), second])[:len(r)]))
    skip = rawskip.Skip("stamp", rawskip.Delivered([first, index.sorted.copy(),
                                                    second ^ row_hash], 1, 0, 0),
                        [index], UniqueKeys("sku", index), Rows(report), report)
    mask = skip.block(rows, 1, lambda b: {})
    assert mask is not None and mask.tolist() == [False, True]
