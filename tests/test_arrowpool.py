"""A ``filebridge run`` allocates from Arrow's jemalloc pool (lower peak memory than
the default mimalloc, see filebridge/arrowpool.py) unless ARROW_DEFAULT_MEMORY_POOL
names a pool. Each case runs the command line in a fresh interpreter, which reports
the pool it ended with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import write_profile

RUN = ("import sys{first}; from filebridge.cli import main\n"
       "sys.argv = ['filebridge', 'run', {profile!r}]\n"
       "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
       "import pyarrow as pa; print(pa.default_memory_pool().backend_name)")


def _pool_after_run(workdir: Path, env: dict[str, str], first: str = "") -> str:
    (workdir / "inbox" / "items.csv").write_text("CODE;NAME\nA1;one\n", encoding="utf-8")
    profile = write_profile(workdir, {
        "name": "pool", "source": {"kind": "local", "path": "../inbox"},
        "read": {"format": "csv", "delimiter": ";"},
        "map": {"key": "SKU", "fields": {"SKU": {"from": "CODE"}}},
        "write": [{"format": "csv", "path": "../out/items.csv"}],
        "ledger": "../filebridge.db"})
    done = subprocess.run([sys.executable, "-c", RUN.format(profile=str(profile), first=first)],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (workdir / "out" / "items.csv").exists()
    return done.stdout.splitlines()[-1]


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
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    assert _pool_after_run(workdir, env, first) == "jemalloc"


def test_the_environment_still_chooses_the_pool(workdir: Path) -> None:
    env = dict(os.environ, ARROW_DEFAULT_MEMORY_POOL="system")
    assert _pool_after_run(workdir, env) == "system"
