"""Every field of JRecord's DTAR020.bin against JRecord's own DTAR020.csv.

JRecord (bmTas/JRecord, LGPL-3) is not committed here. Fetch it first (the
search tool's ``fetch github:bmTas/JRecord``), then:

    python bench/jrecord_dtar020.py /work/.mirror/bmTas+JRecord/repo

Prints how many fields were compared and every mismatch (none when last run:
379 records x 6 fields).
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_jrecord_dtar020 import read  # noqa: E402

ZDATA = "examples/Cbl2Csv/src/test/resources/net/sf/JRecord/zData"
CSV = "examples/Cbl2Csv/src/test/resources/net/sf/JRecord/zExamples/cobol/toCsv/test/DTAR020.csv"


def main(mirror: str) -> int:
    def show(path: str) -> bytes:
        return subprocess.run(["git", f"--git-dir={mirror}", "show", f"HEAD:{path}"],
                              capture_output=True, check=True).stdout

    with tempfile.TemporaryDirectory() as tmp:
        rows, report = read(Path(tmp), show(f"{ZDATA}/DTAR020.cbl").decode("latin-1"),
                            show(f"{ZDATA}/DTAR020.bin"))
        rejects = list(report.rejects())
    expected = list(csv.DictReader(io.StringIO(show(CSV).decode("latin-1")), delimiter="\t"))
    compared, bad = 0, 0
    for n, (got, want) in enumerate(zip(rows, expected, strict=True), 1):
        for name, text in want.items():
            ours = got[f"DTAR020_{name}"]
            same = Decimal(ours) == Decimal(text) if name != "KEYCODE_NO" else ours == text
            compared += 1
            if not same:
                bad += 1
                print(f"record {n} {name}: ours {ours!r}, JRecord {text!r}")
    print(f"{len(rows)} records, {compared} fields compared, {bad} mismatches, "
          f"{len(rejects)} rejects")
    return 1 if bad or rejects else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
