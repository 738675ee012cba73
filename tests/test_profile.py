"""Profiles: validation with located errors, secrets as references, paths."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from filebridge.errors import ProfileError
from filebridge.options import Model, Secret
from filebridge.profile import load_profile, parse_profile

BASE = """\
name: t
source:
  kind: local
  path: inbox
read:
  format: csv
  delimiter: ";"
write:
  - format: csv
    path: out/{stem}.csv
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ProfileError) as e:
        parse_profile(text, Path("/p/prof.yaml"))
    return e.value.problems


@pytest.mark.parametrize("text,expected", [
    (BASE.replace("delimiter", "delimeter"),
     "/p/prof.yaml:7: read.delimeter: unknown key"),
    (BASE.replace('";"', "[1]"), "/p/prof.yaml:7: read.delimiter: Input should be a valid string"),
    (BASE.replace("format: csv\n  delimiter", "format: cvs\n  delimiter"),
     "/p/prof.yaml:6: read: Input tag 'cvs' found using 'format' does not match any of the "
     "expected tags: 'csv'"),
    (BASE.replace("kind: local", "kind: local\n  ready: {stable_for: soon}"),
     "/p/prof.yaml:4: source.ready.stable_for: not a duration: 'soon'"),
    (BASE + "map:\n  fields:\n    a: {from: x, apply: [trim, shout]}\n",
     "/p/prof.yaml:13: map.fields.a.apply: unknown transform 'shout'"),
    (BASE.replace("name: t", "name: 'bad name!'"), "/p/prof.yaml:1: name: String should match"),
    (BASE.replace("  - format: csv\n    path: out/{stem}.csv\n", ""),
     "/p/prof.yaml:8: write: Input should be a valid list"),
    (BASE.replace("  - format: csv\n    path: out/{stem}.csv\n", "  []\n"),
     "/p/prof.yaml:8: write: List should have at least 1 item"),
    # A code page written as a number is a YAML int: located, not an AttributeError.
    (BASE.replace('delimiter: ";"', 'delimiter: ";"\n  encoding: 1252'),
     "/p/prof.yaml:8: read.encoding: Input should be a valid string"),
    (BASE.replace('delimiter: ";"', 'delimiter: ";"\n  encoding: cp9999'),
     "/p/prof.yaml:8: read.encoding: unknown encoding 'cp9999'"),
])
def test_errors_name_file_line_and_path(text, expected):
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_reported_at_once():
    text = BASE.replace("delimiter", "delimeter").replace("kind: local", "kind: local\n  x: 1")
    found = problems(text + "extra: true\n")
    assert len(found) == 3


def test_relative_paths_resolve_against_the_profile_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DROP", str(tmp_path / "drop"))
    (tmp_path / "sub").mkdir()
    p = tmp_path / "sub" / "prof.yaml"
    p.write_text(BASE.replace("path: inbox", "path: ../inbox\n  archive: ${DROP}/arch"))
    prof = load_profile(p)
    assert prof.source.path == tmp_path / "inbox"  # normalised
    assert prof.source.archive == tmp_path / "drop" / "arch"
    assert prof.ledger_path() == tmp_path / "sub" / "filebridge.db"


def test_unset_variable_in_a_path_is_reported():
    found = problems(BASE.replace("path: inbox", "path: ${NOPE_NOT_SET}/inbox"))
    assert any("environment variable NOPE_NOT_SET" in p for p in found)


class WithSecret(Model):
    token: Secret


def test_secrets_are_references_never_literals(monkeypatch, tmp_path):
    monkeypatch.setenv("FB_TEST_TOKEN", "s3cr3t-value")
    s = WithSecret.model_validate({"token": "${FB_TEST_TOKEN}"}).token
    assert s.reveal() == "s3cr3t-value"
    assert "s3cr3t" not in repr(s) and "s3cr3t" not in str(s)

    (tmp_path / "tok").write_text("from-file\n")
    s = WithSecret.model_validate({"token": "file:tok"}, context={"base": tmp_path}).token
    assert s.reveal() == "from-file"

    with pytest.raises(ValidationError) as e:
        WithSecret.model_validate({"token": "hunter2-literal"})
    assert "literal secret is refused" in str(e.value) and "hunter2" not in str(e.value)

    monkeypatch.delenv("FB_MISSING", raising=False)
    with pytest.raises(ValidationError, match="environment variable FB_MISSING is not set"):
        WithSecret.model_validate({"token": "${FB_MISSING}"})


def test_output_placeholders_and_changes_key_are_checked_at_load():
    found = problems(BASE.replace("out/{stem}.csv", "out/{stemm}.csv"))
    assert any("write.0.path: unknown placeholder {stemm}" in p for p in found), found
    found = problems(BASE.replace("path: out/{stem}.csv",
                                  "path: out/{stem}.csv\n    mode: changes"))
    assert any("mode: changes needs map.key" in p for p in found), found


def test_missing_or_literal_secret_in_a_profile_is_located_and_never_echoed(monkeypatch):
    monkeypatch.delenv("FB_FEED_TOKEN", raising=False)
    text = BASE.replace("  - format: csv\n    path: out/{stem}.csv\n",
                        "  - format: template\n    path: out/{stem}.xml\n"
                        "    text: '{{ secrets.token }}'\n"
                        "    secrets: {token: '${FB_FEED_TOKEN}'}\n")
    found = problems(text)
    assert any(p.startswith("/p/prof.yaml:12: write.0.secrets.token:") and
               "environment variable FB_FEED_TOKEN is not set" in p for p in found), found
    found = problems(text.replace("'${FB_FEED_TOKEN}'", "s3cr3t-literal"))
    assert any("literal secret is refused" in p for p in found), found
    assert not any("s3cr3t" in p for p in found)


@pytest.mark.parametrize("second", ["out/x.new.csv", "out/x.update.csv"])
def test_an_output_clashing_with_another_outputs_extra_file_is_refused(second):
    # WooCommerce writes x.new.csv and x.update.csv from path x.csv: another output on
    # one of those names would overwrite it in the same publish.
    text = f"""name: clash
source: {{kind: local, path: inbox}}
read: {{format: csv}}
map:
  key: sku
  fields: {{sku: {{from: sku}}, title: {{from: t}}, price: {{from: p}}}}
write:
  - {{format: woocommerce_csv, path: out/x.csv}}
  - {{format: csv, path: {second}}}
"""
    with pytest.raises(ProfileError) as e:
        parse_profile(text, Path("clash.yaml"))
    assert f"two outputs write the same path: {second}" in str(e.value)
