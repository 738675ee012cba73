"""The AS400 sample flows end to end: EBCDIC with a copybook, multi-record orders
with control totals (and what happens when the file is cut short)."""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    return tmp_path


def run(tmp_path: Path, profile: str, file: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "filebridge", "run",
                           str(tmp_path / "profiles" / profile), str(file)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def rows(path: Path, delimiter=","):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def test_ebcdic_article_master_through_its_copybook(tmp_path):
    setup(tmp_path)
    r = run(tmp_path, "articoli-ebcdic.yaml",
            tmp_path / "samples/as400/ARTICOLI_EBCDIC_20261127.bin")
    assert r.returncode == 1, r.stderr  # one row rejected on purpose
    out = rows(tmp_path / "outbox/prezzi-giacenze/ARTICOLI_EBCDIC_20261127.csv")
    assert len(out) == 8
    assert out[0] == {"sku": "D23SJE0001-506-26", "ean": "8012345000005",
                      "description": "Jeans regular con coulisse bouclé", "price": "200.90",
                      "stock": "97", "changed_on": "2026-11-01"}
    assert out[-1]["description"] == "Sciarpa € 2026 così morbida"  # cp1144's euro
    assert [o["stock"] for o in out if o["sku"] == "M24MA00017-120-M"] == ["0"]  # -2 clamped
    rej = rows(tmp_path / "feedback/articoli-ebcdic/ARTICOLI_EBCDIC_20261127.rejects.csv", ";")
    assert [(x["line"], x["field"], x["value"]) for x in rej] == [("7", "PREZZO", "00 00 45 90 0A")]


def test_orders_inherit_headers_and_a_cut_file_is_refused(tmp_path):
    setup(tmp_path)
    sample = tmp_path / "samples/as400/ORDINI_20261127.txt"
    r = run(tmp_path, "ordini-evasi.yaml", sample)
    assert r.returncode == 0, r.stderr
    out = rows(tmp_path / "outbox/fulfilment/ORDINI_20261127.csv")
    assert [(o["order_id"], o["sku"], o["quantity"]) for o in out][:3] == [
        ("W1001", "D23SJE0001-506-26", "1"), ("W1001", "M24MA00017-001-S", "2"),
        ("W1002", "G25PE00003-002-48", "1")]
    assert {o["warehouse"] for o in out if o["order_id"] == "W1003"} == {"NEG"}

    cut = tmp_path / "ORDINI_20261128.txt"  # the transfer stopped before the trailer
    cut.write_bytes(b"".join(sample.read_bytes().splitlines(keepends=True)[:-2]))
    r = run(tmp_path, "ordini-evasi.yaml", cut)
    assert r.returncode == 3
    assert not (tmp_path / "outbox/fulfilment/ORDINI_20261128.csv").exists()
    ack = rows(tmp_path / "feedback/ordini/ORDINI_20261128.ack.csv", ";")[0]
    assert ack["status"] == "rejected" and "trailer" in ack["reason"]

    wrong = tmp_path / "ORDINI_20261129.txt"  # the trailer disagrees with the lines
    wrong.write_bytes(sample.read_bytes().replace(b"T000006000000009", b"T000006000000010"))
    r = run(tmp_path, "ordini-evasi.yaml", wrong)
    assert r.returncode == 3
    ack = rows(tmp_path / "feedback/ordini/ORDINI_20261129.ack.csv", ";")[0]
    assert "TOTQTA: expected 10, found 9" in ack["reason"]


def test_sample_generators_reproduce_the_committed_files(tmp_path):
    gen = tmp_path / "as400"
    shutil.copytree(ROOT / "samples/as400", gen)
    subprocess.run([sys.executable, str(gen / "make_as400.py")], check=True)
    for name in ("ARTICOLI_EBCDIC_20261127.bin", "ORDINI_20261127.txt"):
        assert (gen / name).read_bytes() == (ROOT / "samples/as400" / name).read_bytes()


def test_every_bundled_profile_checks():
    profiles = sorted(str(p) for p in (ROOT / "profiles").glob("*.yaml"))
    r = subprocess.run([sys.executable, "-m", "filebridge", "check", *profiles],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok") == len(profiles) >= 7
