"""The memory pool a filebridge process's Arrow arrays come from.

Arrow's default is mimalloc. A run frees a few blocks' worth of arrays per batch,
and mimalloc holds on to more of that memory than jemalloc does: on the 1M-row
bench (bench/README.md) jemalloc's peak RSS is 10-45 MiB lower at the same speed.
The pool is chosen through ``ARROW_DEFAULT_MEMORY_POOL`` before pyarrow is
imported: a pool switched afterwards leaves what was allocated before in the first
pool, with two allocators holding memory. The variable still
decides when it is set; elsewhere than Linux, or with a pyarrow built without
jemalloc, the default stays.
"""

from __future__ import annotations

import os
import sys

ENV = "ARROW_DEFAULT_MEMORY_POOL"


def use_jemalloc() -> None:
    """Make jemalloc this process's (and its children's) Arrow pool, unless the
    environment chose one. Called by the command line before anything imports
    pyarrow; later (pyarrow imported) it switches the default pool."""
    if os.environ.get(ENV):
        return
    if "pyarrow" not in sys.modules:
        # Linux wheels are built with jemalloc; some macOS (arm64) and all Windows
        # wheels are not, and Arrow would warn of a pool it lacks.
        if sys.platform.startswith("linux"):
            os.environ[ENV] = "jemalloc"
        return
    import pyarrow as pa

    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # built without jemalloc
        pass
