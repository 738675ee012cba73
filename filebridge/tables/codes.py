"""Code tables: files that change rarely (colours, materials, fits, categories),
each kept as one current version with its digest, file name and load time.

Between two main files (never during one), each table's newest file is looked at:
unchanged (same name, size and time, or same content) it stays; new content is
read into a SQLite copy beside the ledger, checked (every row readable, one row
per key for one-to-one joins) and made current in one ledger transaction; the old
copy is removed. A new version that cannot be used is refused (logged, kept in the
ledger with its reason for ``status``) and the current one stays. A main file
whose code table was never loaded waits, untouched, until one is.

Where a table's files are found is a Source like the main file's (local folder or
SFTP), listed and fetched through the same interface, never claimed or moved.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from filebridge.errors import TransferError, Waiting
from filebridge.ledger import tables as tl
from filebridge.ledger.sqlite import Ledger
from filebridge.tables.store import TableData, TableError

log = logging.getLogger("filebridge")


class CodeTables:
    def __init__(self, profile: str, specs: dict[str, Any], ledger: Ledger,
                 source_options: Any, registry: Any, data_dir: Path, scratch_root: Path,
                 needs: Any, check: Any):
        self.profile = profile
        self.specs = specs
        self.ledger = ledger
        self.data_dir = data_dir
        self.scratch_root = scratch_root
        self.needs = needs  # name -> (columns, keys, indexes)
        self.check = check  # (name, TableData) -> problem text or None
        self.readers = {n: registry.get("reader", s.read.format)(s.read) for n, s in
                        specs.items()}
        self.sources = {n: self._source(s, source_options, registry) for n, s in specs.items()}

    @staticmethod
    def _source(spec: Any, main: Any, registry: Any) -> Any:
        from filebridge.sources.local import LocalSourceOptions

        if spec.path is not None:
            opts: Any = LocalSourceOptions(kind="local", path=spec.path.parent,
                                           pattern=[spec.path.name])
        elif spec.folder is not None:
            opts = LocalSourceOptions(kind="local", path=spec.folder, pattern=[spec.pattern])
        else:  # the profile's own source: same server and folder, this pattern, no claim
            update: dict[str, Any] = {"pattern": [spec.pattern]}
            if "claim" in type(main).model_fields:
                update["claim"] = None
            opts = main.model_copy(update=update)
        return registry.get("source", opts.kind)(opts)

    def where(self, name: str) -> str:
        s = self.specs[name]
        if s.path is not None:
            return str(s.path)
        src = self.sources[name]
        folder = getattr(src, "inbox", None)
        url = src.session.url(folder) if hasattr(src, "session") else str(folder)
        return f"{s.pattern} in {url}"

    # between files ---------------------------------------------------------------
    def refresh(self) -> None:
        """Bring every code table to its newest usable version; Waiting when one has
        none yet (all such tables named)."""
        waits = []
        for name in self.specs:
            try:
                self._refresh(name)
            except Waiting as e:
                waits.append(str(e))
        if waits:
            raise Waiting("; ".join(waits))

    def _refresh(self, name: str) -> None:
        src = self.sources[name]
        cur = tl.current(self.ledger, self.profile, name)
        try:
            with src.poll():
                cands = src.candidates()
                if not cands:
                    if cur is None:
                        raise Waiting(f"code table {name}: no file yet ({self.where(name)})")
                    return
                newest = cands[-1]
                seen = tl.seen_key(newest.name, src.fingerprint(newest))
                if cur is not None and cur.seen == seen:
                    return
                bad = tl.refused(self.ledger, self.profile, name, seen)
                if bad is not None:
                    if cur is None:
                        raise Waiting(f"code table {name}: {bad.reason}")
                    return
                if not src.wait_ready(newest):
                    if cur is None:
                        raise Waiting(f"code table {name}: {newest.name} is still being "
                                      "written")
                    return
                with src.fetch(newest) as local:
                    self._load(name, newest.name, seen, local, cur)
        except TransferError as e:
            if cur is None:
                raise Waiting(f"code table {name}: {e}") from None
            log.warning("%s: code table %s: cannot look for a new version (%s); keeping %s",
                        self.profile, name, e, cur.file)

    def _load(self, name: str, file: str, seen: str, local: Path, cur: tl.Version | None
              ) -> None:
        from filebridge.digest import digest

        dig = digest(local, self.ledger.digest_kind)
        if cur is not None and cur.digest == dig:
            tl.seen_again(self.ledger, cur.id, file, seen)
            return
        columns, keys, indexes = self.needs(name)
        self.scratch_root.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"table-{__import__('os').getpid()}-",
                                         dir=self.scratch_root) as tmp:
            try:
                data = TableData.load(self.readers[name], local, Path(tmp) / "t.sqlite",
                                      label=name, shown=file, columns=columns, keys=keys,
                                      indexes=indexes, spool=Path(tmp))
                problem = self.check(name, data)
                rows = data.rows
                data.close()
                if problem:
                    raise TableError(f"{file}: {problem}")
            except TableError as e:
                reason = f"{e}"
                tl.refuse(self.ledger, self.profile, name, file, seen, dig, reason)
                if cur is None:
                    log.error("%s: code table %s refused: %s", self.profile, name, reason)
                    raise Waiting(f"code table {name}: {reason}") from None
                log.error("%s: code table %s: new version refused, keeping %s: %s",
                          self.profile, name, cur.file, reason)
                return
            final = self.data_dir / f"{name}-{dig[:16]}.sqlite"
            shutil.move(str(Path(tmp) / "t.sqlite"), final)
        old = tl.install(self.ledger, self.profile, name, file, seen, dig, rows, str(final))
        if old is not None and old.data and old.data != str(final):
            Path(old.data).unlink(missing_ok=True)
        log.info("%s: code table %s: %s loaded (%d rows)%s", self.profile, name, file, rows,
                 f", replacing {old.file}" if old else "")

    # per main file -----------------------------------------------------------------
    def pinned(self) -> dict[str, TableData]:
        """The current version of every code table, opened for one main file."""
        out: dict[str, TableData] = {}
        for name in self.specs:
            cur = tl.current(self.ledger, self.profile, name)
            if cur is None or not cur.data or not Path(cur.data).exists():
                for t in out.values():
                    t.close()
                raise Waiting(f"code table {name} was never loaded ({self.where(name)})")
            out[name] = TableData(Path(cur.data), name, cur.file)
        return out

    def sweep(self) -> int:
        """Copies no current version uses (a crash between copying and recording)."""
        if not self.data_dir.is_dir():
            return 0
        keep = tl.data_files(self.ledger, self.profile)
        n = 0
        for f in self.data_dir.glob("*.sqlite"):
            if str(f) not in keep:
                f.unlink(missing_ok=True)
                n += 1
        return n
