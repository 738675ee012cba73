"""Errors are handled by what the operator should do about them: an output that cannot
render a file's records rejects that file with its reason (the ERP is told); a bug in
filebridge is not dressed up as a bad file but stops the run, and the file stays
claimed in the inbox to be redone once the bug is fixed."""

import ast
from pathlib import Path

import pytest
from conftest import write_profile
from test_pipeline import GOOD, cli, drop, profile, read_csv

from filebridge.catalog.record import FieldError
from filebridge.errors import Bug, FilebridgeError, OutputError, RejectedFile
from filebridge.job import Job
from filebridge.layouts.imported import LayoutError
from filebridge.profile import load_profile
from filebridge.runner import run_files
from filebridge.sinks.csv import CsvSink


def test_an_output_that_cannot_render_the_records_rejects_the_file(workdir):
    p = profile()
    p["write"][0]["columns"] = ["sku", "weight"]  # the mapping makes no weight
    prof = write_profile(workdir, p)
    drop(workdir, "ART_1.txt", GOOD)
    r = cli("run", str(prof), cwd=workdir)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    ack = read_csv(workdir / "profiles" / "feedback" / "ART_1.ack.csv", ";")[0]
    assert ack["status"] == "rejected"
    assert ack["reason"].startswith("output: output columns need field(s) weight")
    assert [p.suffix for p in sorted((workdir / "errors").iterdir())] == [".txt", ".txt"]


def test_a_bug_in_a_sink_stops_the_run_and_the_file_waits_in_the_inbox(workdir, monkeypatch):
    prof = write_profile(workdir, profile())
    drop(workdir, "ART_1.txt", GOOD)

    def bug(self, batch):
        # a KeyError: a bug, not bad data
        return dict[str, str]()["a key filebridge's own code forgot"]

    monkeypatch.setattr(CsvSink, "write", bug)
    with pytest.raises(KeyError):
        run_files(Job(load_profile(prof)), [])
    assert (workdir / "inbox" / "ART_1.txt").exists()
    assert not (workdir / "errors").exists()  # not quarantined as if the file were bad
    assert not (workdir / "profiles" / "feedback" / "ART_1.ack.csv").exists()
    monkeypatch.undo()  # the bug fixed: the same file goes through
    (outcome,) = run_files(Job(load_profile(prof)), [])
    assert outcome.status == "done" and outcome.tally.sent == 2


def test_the_errors_callers_tell_apart_sit_under_the_root():
    for cls in (FieldError, LayoutError, OutputError):
        assert issubclass(cls, FilebridgeError), cls
    assert issubclass(OutputError, RejectedFile)
    # Profile validators raise these inside pydantic, which only reports ValueErrors.
    assert issubclass(FieldError, ValueError) and issubclass(LayoutError, ValueError)
    assert not issubclass(Bug, FilebridgeError)  # a bug is never an expected outcome


def test_no_invariant_is_an_assert_that_python_dash_o_would_drop():
    package = Path(__file__).resolve().parent.parent / "filebridge"
    found = [f"{p.relative_to(package)}:{n.lineno}"
             for p in sorted(package.rglob("*.py"))
             for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if isinstance(n, ast.Assert)]
    assert found == [], "use `if ...: raise Bug(...)`: " + ", ".join(found)
