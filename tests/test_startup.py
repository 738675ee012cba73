"""Start-up stays light (issue 14): ``filebridge --help``, and loading or running a
CSV -> file profile, import none of the heavy libraries that only some plugins
need, nor the plugins the profile does not name; and a run sets its process up as
filebridge/startup.py says (Arrow's pool, BLAS threads, the collector). Each case
runs in a fresh interpreter and reports what it holds at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
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


# The command line run in a fresh interpreter (``first``: what it imports before),
# which then reports how its process was set up.
SETUP = ("import sys{first}; from filebridge.cli import main\n"
         "sys.argv = ['filebridge', 'run', {profile!r}]\n"
         "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
         "import gc, json, os, pyarrow as pa\n"
         "print(json.dumps({{'code': code, 'pool': pa.default_memory_pool().backend_name,\n"
         "    'blas': os.environ.get('OPENBLAS_NUM_THREADS'), 'gc': gc.isenabled(),\n"
         "    'frozen': gc.get_freeze_count()}}))")


def _setup_after_run(workdir: Path, env: dict[str, str], first: str = "",
                     profile: Path | None = None) -> dict:
    if profile is None:
        profile = _csv_profile(workdir, [{"format": "csv", "path": "../out/items.csv"}])
    done = subprocess.run([sys.executable, "-c", SETUP.format(profile=str(profile), first=first)],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _env(**changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    for k, v in changes.items():
        env.pop(k, None)
        if v is not None:
            env[k] = v
    return env


def _has_jemalloc() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    return True


@pytest.mark.skipif(not (sys.platform.startswith("linux") and _has_jemalloc()),
                    reason="jemalloc is chosen on Linux, with a pyarrow built with it")
@pytest.mark.parametrize("first", ["", ", pyarrow"], ids=["cli-first", "pyarrow-first"])
def test_a_run_allocates_from_jemalloc(workdir: Path, first: str) -> None:
    """Chosen before pyarrow is imported (the command line's case), or switched to
    when something imported pyarrow first."""
    done = _setup_after_run(workdir, _env(ARROW_DEFAULT_MEMORY_POOL=None), first)
    assert done["code"] == 0
    assert (workdir / "out" / "items.csv").exists()
    assert done["pool"] == "jemalloc"


def test_the_environment_still_chooses_the_pool(workdir: Path) -> None:
    done = _setup_after_run(workdir, _env(ARROW_DEFAULT_MEMORY_POOL="system"))
    assert (done["code"], done["pool"]) == (0, "system")


def test_a_run_keeps_blas_to_one_thread_unless_told(workdir: Path) -> None:
    assert _setup_after_run(workdir, _env(OPENBLAS_NUM_THREADS=None))["blas"] == "1"
    assert _setup_after_run(workdir, _env(OPENBLAS_NUM_THREADS="3"))["blas"] == "3"


def test_the_collector_runs_again_after_the_job_is_built(workdir: Path) -> None:
    """Paused while the job is built, then on, with what the build made frozen: after a
    run, and after a profile the build refused."""
    done = _setup_after_run(workdir, _env())
    assert done["code"] == 0 and done["gc"] is True
    assert done["frozen"] > 10_000  # the pipeline's modules and the profile's models
    broken = workdir / "broken.yaml"
    broken.write_text("name: broken\nsource: {kind: local, path: inbox}\nread: {format: nope}\n",
                      encoding="utf-8")
    done = _setup_after_run(workdir, _env(), profile=broken)
    assert done["code"] == 4 and done["gc"] is True  # CONFIG_ERROR
