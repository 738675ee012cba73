"""How a filebridge process starts: what the command line sets up before the work
begins, each choice here because a run measured it (bench/README.md).

- **Arrow's memory pool is jemalloc.** Arrow's default is mimalloc. A run frees a
  few blocks' worth of arrays per batch, and mimalloc holds on to more of that memory
  than jemalloc does: on the 1M-row bench, jemalloc's peak RSS is 10-45 MiB lower at
  the same speed. The pool is chosen through ``ARROW_DEFAULT_MEMORY_POOL`` before
  pyarrow is imported: a pool switched afterwards leaves what was allocated before in
  the first pool, with two allocators holding memory. The variable still decides
  when it is set; elsewhere than Linux, or with a pyarrow built without jemalloc,
  the default stays.
- **NumPy's BLAS runs on the calling thread.** filebridge does no linear algebra,
  but OpenBLAS starts a thread per core when numpy is imported, and they spin for a
  while looking for work: about 50 ms of cpu in every process.
- **The collector waits while a job is built.** Importing the pipeline and building
  the profile's models make some 50,000 objects that live as long as the process;
  Python's collector would walk them a few hundred times on the way (about 7% of a
  10-row run's instructions). They are frozen instead (``gc.freeze``): later
  collections skip them.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

ENV = "ARROW_DEFAULT_MEMORY_POOL"
BLAS_THREADS = ("OPENBLAS_NUM_THREADS",)  # numpy's wheels bundle OpenBLAS


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


def one_blas_thread() -> None:
    """No BLAS threads for this process (and its children), unless the environment
    set a number. Only read when numpy is first imported, so called before that."""
    for name in BLAS_THREADS:
        os.environ.setdefault(name, "1")


@contextmanager
def building() -> Iterator[None]:
    """No collection while the block runs (a job is built), then what it made frozen
    out of later collections. The few hundred objects a build leaves as garbage stay
    for the life of the process: cheaper than the full collection that would free them."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was:
            gc.enable()
