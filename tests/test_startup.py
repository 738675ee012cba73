"""Start-up stays light (issue 14): ``filebridge --help``, and loading or running a
CSV -> file profile, import none of the heavy libraries that only some plugins
need, nor the plugins the profile does not name. Each case runs in a fresh
interpreter and reports what ``sys.modules`` holds at the end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_profile

HEAVY = ("requests", "urllib3", "jinja2", "paramiko", "openpyxl")
REPORT = ("import json, sys; print(json.dumps(sorted(m for m in sys.modules if "
          "m.split('.')[0] in ('filebridge', *{heavy}))))")


def _modules_after(code: str, cwd: Path) -> set[str]:
    script = code + "\n" + REPORT.format(heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def _csv_profile(workdir: Path, write: list[dict]) -> Path:
    (workdir / "inbox" / "items.csv").write_text("CODE;NAME\nA1;one\nA2;two\n",
                                                 encoding="utf-8")
    return write_profile(workdir, {
        "name": "light", "source": {"kind": "local", "path": "../inbox"},
        "read": {"format": "csv", "delimiter": ";"},
        "map": {"key": "SKU", "fields": {"SKU": {"from": "CODE"}, "Title": {"from": "NAME"}}},
        "write": write, "ledger": "../filebridge.db"})


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_help_imports_no_plugin_and_no_heavy_library(tmp_path: Path) -> None:
    code = ("import sys; sys.argv = ['filebridge', '--help']\n"
            "from filebridge.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass")
    modules = _modules_after(code, tmp_path)
    assert "filebridge.cli" in modules
    assert _heavy(modules) == []
    assert not {"filebridge.profile", "filebridge.registry", "filebridge.pipeline"} & modules


@pytest.mark.parametrize("step", ["load", "run"])
def test_a_csv_to_file_profile_imports_only_its_plugins(workdir: Path, step: str) -> None:
    profile = _csv_profile(workdir, [{"format": "csv", "path": "../out/items.csv"}])
    if step == "load":
        code = f"from filebridge.profile import load_profile\nload_profile({str(profile)!r})"
    else:
        code = ("import sys; from filebridge.cli import main\n"
                f"sys.argv = ['filebridge', 'run', {str(profile)!r}]\n"
                "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code")
    modules = _modules_after(code, workdir)
    assert {"filebridge.readers.csv", "filebridge.sinks.csv"} <= modules  # the walk sees them
    assert _heavy(modules) == []
    unnamed = sorted(m for m in modules if m.startswith((
        "filebridge.sinks.api", "filebridge.readers.xlsx", "filebridge.readers.xml",
        "filebridge.sources.sftp", "filebridge.stock", "filebridge.shipments",
        "filebridge.photos.spec")))
    assert unnamed == []
    if step == "run":
        assert (workdir / "out" / "items.csv").exists()


def test_a_profile_naming_a_shop_api_imports_that_sink_only(workdir: Path) -> None:
    # The check above could pass by importing nothing: a named plugin is imported.
    profile = _csv_profile(workdir, [{"format": "shopify_api", "url": "https://x.myshopify.com",
                                      "token": "${SHOP_TOKEN}", "api_version": "2026-01",
                                      "location": "main"}])
    code = ("import os; os.environ['SHOP_TOKEN'] = 't'\n"
            f"from filebridge.profile import load_profile\nload_profile({str(profile)!r})")
    modules = _modules_after(code, workdir)
    assert "filebridge.sinks.api.shopify" in modules
    assert not {"filebridge.sinks.api.magento", "filebridge.sinks.api.vendure",
                "filebridge.sinks.csv"} & modules
