"""The README's tutorial, typed literally: every fenced block of the section "Tutorial:
a profile for a new export", in order, in an empty folder. A ```` ```yaml file=PATH ````
block is written to PATH (the blocks of one file, in order, make the file); a
```` ```sh ```` block's lines are run one by one with bash, ``filebridge`` on the PATH
as the README says (this venv's bin). ``watch`` runs until it says it is watching,
then gets SIGINT (the README's Ctrl-C). A block the test does not know fails it, so
a new kind of block is not silently left out."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Tutorial: a profile for a new export"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)


def tutorial_blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION) + len(SECTION)
    end = text.index("\n## ", start)
    return [(info.strip(), body) for info, body in FENCE.findall(text[start:end])]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FILEBRIDGE_LEDGER", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _watch(line: str, cwd: Path, env: dict[str, str]) -> None:
    """Start a watch command, wait for it to watch, stop it as Ctrl-C would."""
    log = cwd / ".watch.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=cwd, env=env,
                                stdout=err, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while "watching" not in log.read_text():
            assert proc.poll() is None, f"{line!r} ended early: {log.read_text()}"
            assert time.monotonic() < deadline, f"{line!r} never watched: {log.read_text()}"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    text = log.read_text()
    log.unlink()
    assert code == 0, f"{line!r} exited {code}: {text}"
    assert "Traceback" not in text and "stopped" in text


def test_tutorial_blocks_run_as_written(tmp_path: Path) -> None:
    env = _env()
    blocks = tutorial_blocks()
    assert len(blocks) >= 8, "the tutorial lost its blocks"
    written: set[str] = set()
    outputs: list[str] = []
    for info, body in blocks:
        words = info.split()
        target = next((w.removeprefix("file=") for w in words if w.startswith("file=")), None)
        if target is not None:
            path = tmp_path / target
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a" if target in written else "w", encoding="utf-8") as f:
                f.write(body)
            written.add(target)
        elif words[:1] == ["sh"]:
            for line in body.splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                if re.match(r"filebridge watch\b", line):
                    _watch(line.split("#")[0].strip(), tmp_path, env)
                    continue
                r = subprocess.run(["bash", "-c", line], check=False, cwd=tmp_path, env=env,
                                   capture_output=True, text=True, timeout=120)
                assert r.returncode == 0, f"{line!r} exited {r.returncode}:\n{r.stdout}{r.stderr}"
                assert "Traceback" not in r.stderr
                outputs.append(r.stdout + r.stderr)
        elif info == "":
            continue  # the example record, checked below
        else:
            pytest.fail(f"a README tutorial block this test does not run: ```{info}")
    text = "\n".join(outputs)
    # preview showed the record's fields where the layout says they are
    assert '"CODART": "D23SJE0001"' in text and '"EAN": "8012345000005"' in text
    assert '"PREZZO": "200.90"' in text and '"DTULTMOD": "2022-05-03"' in text
    assert "ok (articoli" in text  # check
    assert "ARTICOLI_20261127.txt: done (read 1, sent 1," in text  # run
    shopify = (tmp_path / "outbox/shopify/ARTICOLI_20261127.csv").read_text(encoding="utf-8")
    assert "D23SJE0001-506-26,8012345000005" in shopify
    assert "Jeans regular con coulisse bouclé" in shopify
    ack = (tmp_path / "feedback/ARTICOLI_20261127.ack.csv").read_text(encoding="utf-8")
    assert "ARTICOLI_20261127.txt;done;1;1;0;0" in ack
    assert not list((tmp_path / "inbox/articoli").iterdir())  # archived


def test_example_record_matches_the_layout() -> None:
    """The record shown is the record the tutorial creates, as wide as record_length."""
    blocks = tutorial_blocks()
    record = next(body for info, body in blocks if info == "").rstrip("\n")
    shell = "\n".join(body for info, body in blocks if info == "sh")
    layout = "".join(body for info, body in blocks if "file=profiles/articoli.yaml" in info)
    width = int(re.search(r"record_length: (\d+)", layout).group(1))  # type: ignore[union-attr]
    assert len(record) == width
    assert f"'{record}'" in shell
    last = max(int(s) + int(n) - 1 for s, n in
               re.findall(r"start: (\d+),\s+length: (\d+)", layout))
    assert last == width


def test_run_says_the_inbox_is_missing(tmp_path: Path) -> None:
    """A newcomer who forgot to create the inbox is told so, not just 'nothing to do'."""
    profile = tmp_path / "profiles/articoli.yaml"
    profile.parent.mkdir()
    for info, body in tutorial_blocks():
        if "file=profiles/articoli.yaml" in info:
            with open(profile, "a", encoding="utf-8") as f:
                f.write(body)
        elif "file=profiles/colori.csv" in info:
            (tmp_path / "profiles/colori.csv").write_text(body, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "filebridge", "run", str(profile)], check=False,
                       cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"the inbox {tmp_path / 'inbox/articoli'} does not exist" in r.stdout


def test_run_says_it_waits_for_stable_for(tmp_path: Path) -> None:
    """A file just written makes ``run`` wait stable_for; it says so first."""
    profile = tmp_path / "profiles/articoli.yaml"
    profile.parent.mkdir()
    for info, body in tutorial_blocks():
        if "file=profiles/articoli.yaml" in info:
            with open(profile, "a", encoding="utf-8") as f:
                f.write(body)
        elif "file=profiles/colori.csv" in info:
            (tmp_path / "profiles/colori.csv").write_text(body, encoding="utf-8")
    inbox = tmp_path / "inbox/articoli"
    inbox.mkdir(parents=True)
    record = next(body for info, body in tutorial_blocks() if info == "").rstrip("\n")
    written = inbox / "ARTICOLI_20261127.txt"
    written.write_bytes(record.encode("cp1252") + b"\r\n")
    later = time.time() + 3600  # "just written" however slowly the command starts
    os.utime(written, (later, later))
    r = subprocess.run([sys.executable, "-m", "filebridge", "run", str(profile)], check=False,
                       cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert ("ARTICOLI_20261127.txt: waiting until it is unchanged for 2s "
            "(source.ready.stable_for)") in r.stderr
    assert "ARTICOLI_20261127.txt: done" in r.stdout
