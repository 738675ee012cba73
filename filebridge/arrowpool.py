"""The memory pool a filebridge process's Arrow arrays come from.

Arrow's default is mimalloc. A run frees a few blocks' worth of arrays per batch,
and mimalloc holds on to more of that memory than jemalloc does: on the 1M-row
bench (bench/README.md) jemalloc's peak RSS is 25-35 MiB lower at the same speed.
``ARROW_DEFAULT_MEMORY_POOL`` still decides when it is set, and a pyarrow built
without jemalloc (Windows wheels) keeps its default.
"""

from __future__ import annotations

import os

import pyarrow as pa

ENV = "ARROW_DEFAULT_MEMORY_POOL"


def use_jemalloc() -> str:
    """Make jemalloc the default pool unless the environment chose one; the pool's
    name."""
    if not os.environ.get(ENV):
        try:
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        except NotImplementedError:  # built without jemalloc
            pass
    return pa.default_memory_pool().backend_name
