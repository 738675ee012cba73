"""Issue 11 defect 8, end to end (the CLI in a subprocess): a byte that is not valid
in the declared encoding, near row 40,000 of 60,000, rejects that row with its line
and field; every other row goes out and the ack counts all 60,000."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_profile
from helpers import filebridge, read_csv

pytestmark = pytest.mark.timeout(120)
ROWS = 60_000


@pytest.mark.parametrize("encoding, bad", [("utf-8", b"\xe9"), ("cp1252", b"\x81"),
                                           ("shift_jis", b"\x81\x20"),
                                           ("utf-8-sig", b"\xff")])
def test_one_bad_byte_rejects_one_row(tmp_path: Path, encoding: str, bad: bytes):
    (tmp_path / "inbox").mkdir()
    text = "SKU;NAME\n" + "".join(f"S{i};nome {i}\n" for i in range(1, ROWS + 1))
    data = text.encode(encoding).replace(b"nome 40000\n", b"nome " + bad + b"40000\n")
    (tmp_path / "inbox" / "A.csv").write_bytes(data)
    prof = write_profile(tmp_path, {
        "name": "bytes",
        "source": {"kind": "local", "path": str(tmp_path / "inbox"), "pattern": ["*.csv"],
                   "ready": {"stable_for": "0s"}},
        "read": {"format": "csv", "delimiter": ";", "encoding": encoding},
        "map": {"key": "sku", "fields": {"sku": {"from": "SKU"}, "name": {"from": "NAME"}}},
        "write": [{"format": "csv", "path": str(tmp_path / "out" / "{stem}.csv")}],
        "feedback": {"ack": {"path": str(tmp_path / "fb" / "{stem}.ack.csv")},
                     "rejects": {"path": str(tmp_path / "fb" / "{stem}.rejects.csv")}},
        "ledger": str(tmp_path / "ledger.db")})
    done = filebridge("run", str(prof))
    assert done.returncode == 1, done.stdout + done.stderr  # some rows rejected
    (ack,) = read_csv(tmp_path / "fb" / "A.ack.csv", ";")
    assert (ack["status"], ack["read"], ack["sent"], ack["rejected"]) == \
        ("done", str(ROWS), str(ROWS - 1), "1")
    (rej,) = read_csv(tmp_path / "fb" / "A.rejects.csv", ";")
    assert (rej["line"], rej["field"]) == ("40001", "NAME")
    assert rej["reason"].startswith(f"bytes {bad[:1]!r}") and f"not valid {encoding}" in \
        rej["reason"]
    assert "output:" not in rej["reason"]
    out = read_csv(tmp_path / "out" / "A.csv")
    assert len(out) == ROWS - 1 and "S40000" not in {r["sku"] for r in out}
    assert out[-1] == {"sku": f"S{ROWS}", "name": f"nome {ROWS}"}
