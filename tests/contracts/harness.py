"""Runs one registered plugin through the real pipeline for the contract suites.

Every plugin in filebridge/registry.py has a sample, found by convention in
``samples/<kind>/<name>/``:

- ``sample.yaml``: ``profile:`` the fragment that puts the plugin in a profile
  (merged over :data:`BASE`: ``read:``/``map:`` for a reader, ``write:`` for a
  sink, ``source:`` or ``destinations:`` for the others); ``bad:`` the ``line`` and
  ``field`` the rejects file must name for the one bad record; ``shop:`` the
  loopback shop an API sink runs against; ``needs: sshd`` for an SFTP plugin;
  ``not_applicable:`` contract -> why it does not apply to this plugin (said
  here, never by skipping a test); ``n``/``memory_n`` the records per run (see
  :attr:`Sample.sizes`); ``memory_via: reader/<name>``: the memory contract reads
  that reader sample's input with its read options (a slow sink measured at a
  smaller N, test_contracts.memory_sample).
- ``make.py`` (optional): ``make(n) -> bytes``, an input of ``n`` records whose
  record on line ``bad.line`` is broken; without one, :func:`default_input` (the
  base profile's ``;`` CSV).

A plugin registered without a sample fails the suite: a new plugin gets these
tests by adding its sample.
"""

from __future__ import annotations

import copy
import importlib.util
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from ruamel.yaml import YAML

from filebridge import runner
from filebridge.job import Job
from filebridge.outcome import Outcome
from filebridge.profile import load_profile
from filebridge.registry import KINDS, NO_OPTIONS, load_plugins

SAMPLES = Path(__file__).parent / "samples"
CONTRACTS = ("counts", "rejects", "atomic", "abort", "memory")
TMP = ".filebridge-tmp-"

# The profile every sample is merged into: a ';' CSV of articles, one output file,
# an ack and a rejects file. Folders are relative to profiles/.
BASE: dict[str, Any] = {
    "name": "contract",
    "source": {"kind": "local", "path": "../inbox", "pattern": ["*"],
               "ready": {"stable_for": "0s"}, "archive": "../archive", "errors": "../errors"},
    "read": {"format": "csv", "delimiter": ";", "chunk_size": 65536,
             "fields": {"PRICE": {"type": "decimal", "scale": 2}, "QTY": {"type": "integer"}}},
    "map": {"key": "sku", "fields": {
        "sku": {"from": "ART", "required": True}, "title": {"from": "DESC"},
        "price": {"from": "PRICE"}, "stock": {"from": "QTY"}}},
    "write": [{"format": "csv", "path": "../out/{stem}.csv"}],
    "feedback": {"ack": {"path": "../feedback/{stem}.ack.csv"},
                 "rejects": {"path": "../feedback/{stem}.rejects.csv"}},
    "ledger": "../ledger.db",
}
BAD_LINE = 3  # the default input's broken record (line 1 is the header)


def default_input(n: int) -> bytes:
    """``n`` article records as the base profile reads them; record 2 (line 3) has a
    quantity that is not a number."""
    lines = ["ART;DESC;PRICE;QTY"]
    for i in range(1, n + 1):
        qty = "x1" if i + 1 == BAD_LINE else str(i % 50)
        lines.append(f"A{i:07d};Articolo {i} caffè;{10 + i % 90}.{i % 100:02d};{qty}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def registered() -> list[tuple[str, str]]:
    reg = load_plugins()
    return [(k, n) for k in KINDS if k not in NO_OPTIONS for n in reg.names(k)]


def present() -> list[tuple[str, str]]:
    return sorted((d.parent.name, d.name) for d in SAMPLES.glob("*/*") if d.is_dir())


@dataclass
class Sample:
    kind: str
    name: str
    folder: Path
    meta: dict[str, Any]
    make: Callable[[int], bytes]

    @property
    def not_applicable(self) -> dict[str, str]:
        return dict(self.meta.get("not_applicable") or {})

    @property
    def bad(self) -> tuple[int, str]:
        b = self.meta.get("bad") or {"line": BAD_LINE, "field": "QTY"}
        return int(b["line"]), str(b["field"])

    @property
    def sizes(self) -> tuple[int, int]:
        """Records for the counts, rejects, atomic and abort contracts (several
        batches), and N for the memory contract: large enough that the fixed buffers
        (a 1 MiB read block, a batch) are full at N, so that 10N shows growth."""
        return int(self.meta.get("n", 3000)), int(self.meta.get("memory_n", 30000))

    @property
    def input_name(self) -> str:
        return str(self.meta.get("input", "ART_1.csv"))


def sample(kind: str, name: str) -> Sample:
    folder = SAMPLES / kind / name
    meta_file = folder / "sample.yaml"
    if not meta_file.exists():
        raise AssertionError(
            f"{kind} {name!r} is registered but has no contract sample: add "
            f"{meta_file.relative_to(SAMPLES.parent.parent.parent)} (and make.py if it "
            "does not read the base profile's CSV); see tests/contracts/harness.py")
    meta = YAML(typ="safe").load(meta_file.read_text(encoding="utf-8")) or {}
    make: Callable[[int], bytes] = default_input
    if (folder / "make.py").exists():
        spec = importlib.util.spec_from_file_location(f"sample_{kind}_{name}",
                                                      folder / "make.py")
        if spec is None or spec.loader is None:
            raise AssertionError(f"cannot load {folder / 'make.py'}")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        make = mod.make
    return Sample(kind, name, folder, meta, make)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on ``base``: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) \
            else copy.deepcopy(v)
    return out


def fill(value: Any, subs: dict[str, str]) -> Any:
    """``{remote}``-style placeholders of the harness in a profile fragment."""
    if isinstance(value, dict):
        return {k: fill(v, subs) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, subs) for v in value]
    if isinstance(value, str):
        for k, v in subs.items():
            value = value.replace("{" + k + "}", v)
    return value


@dataclass
class Bench:
    """A working folder with the sample's profile: ``profiles/``, ``inbox/`` and the
    folders the outputs land in; ``inbox`` is where the input is dropped (a remote
    folder for an SFTP source); ``watched``: folders no partial output may show in."""

    root: Path
    sample: Sample
    profile: dict[str, Any]
    inbox: Path
    watched: list[Path] = field(default_factory=list)

    def job(self) -> Job:
        path = self.root / "profiles" / "contract.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            YAML().dump(self.profile, f)
        return Job(load_profile(path))

    def drop(self, n: int) -> bytes:
        data = self.sample.make(n)
        self.inbox.mkdir(parents=True, exist_ok=True)
        (self.inbox / self.sample.input_name).write_bytes(data)
        return data

    def run(self, hook: Callable[[int], None] | None = None) -> list[Outcome]:
        """One ``run`` of the profile over its inbox (the source lists, fetches,
        archives), with ``hook`` called where the pipeline reports progress: after
        each batch is read, and once more when every sink has finished."""
        job = self.job()
        try:
            with progress(hook):
                return runner.run_files(job, [])
        finally:
            job.close()
            job.ledger.close()

    def files(self) -> list[Path]:
        """Every file in the watched folders (temporaries included)."""
        return sorted(p for d in self.watched if d.exists() for p in d.rglob("*")
                      if p.is_file())

    def finals(self) -> list[Path]:
        return [p for p in self.files() if not p.name.startswith(TMP)]


@contextmanager
def progress(hook: Callable[[int], None] | None) -> Iterator[None]:
    """The runner's progress display replaced by ``hook`` (the pipeline's own calls)."""
    if hook is None:
        yield
        return
    real = runner.progress_for

    @contextmanager
    def instead(name: str, live: bool = True) -> Iterator[Callable[[int], None]]:
        yield hook

    runner.progress_for = instead
    try:
        yield
    finally:
        runner.progress_for = real


_POOLS: list[pa.MemoryPool] = []


def peak_memory(action: Callable[[], Any], peaks: list[int]) -> Any:
    """What ``action`` returns; appends to ``peaks`` the peak bytes of Python objects
    (tracemalloc) plus Arrow buffers (a proxy pool set as pyarrow's default, which
    counts its own peak) while it ran."""
    old = pa.default_memory_pool()
    pool = pa.proxy_memory_pool(old)
    _POOLS.append(pool)  # buffers it gave out may outlive the run (caches): never freed
    pa.set_memory_pool(pool)
    tracemalloc.start()
    try:
        result = action()
        _, py_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(old)
    peaks.append(py_peak + pool.max_memory())
    return result
