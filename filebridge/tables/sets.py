"""A main file and the files that arrive with it, taken as one set.

:class:`SetSource` wraps the profile's source (local or SFTP: it only lists,
fetches, archives and quarantines through the Source interface, so the set logic
exists once). Its inner source lists the main files and the members (patterns
made from the member templates); the main files are the candidates. A set is
fetched only when complete: every member there (and the set's done-file or
manifest, with every file the manifest names); otherwise :class:`Waiting` names
what is missing, before anything is claimed. Fetching claims the main file and
every member (an SFTP source renames each); afterwards all are archived, members
first and the main file last, or all quarantined together.

Exactly once: the ledger's digest for a set covers the main file and every member
(a set whose translations changed is new). A crash before the ledger commits
leaves every file where it was (or claimed, taken first on the next poll); a crash
between archiving members and the main file leaves the main file, which the
ledger knows as done: it is then archived with what is left, not processed again.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filebridge.errors import Waiting
from filebridge.ledger import tables as tl
from filebridge.ledger.sqlite import Ledger
from filebridge.sources.base import SourceBase
from filebridge.tables.spec import SetSpec, member_name, template_glob

log = logging.getLogger("filebridge")


@dataclass
class _Taken:
    members: dict[str, Path]  # table name -> local file
    extras: list[Path] = field(default_factory=list)  # done-file, manifest, what it names
    done_digest: str | None = None  # the set is done already: finish archiving it


def safe(name: str) -> str:
    """The local name a fetched file gets (an SFTP source cleans remote names)."""
    from filebridge.sources.sftp import safe_name

    return safe_name(name) or name


def _name(c: Any) -> str:
    return str(getattr(c, "original", None) or c.name)


class SetSource(SourceBase):
    def __init__(self, inner_cls: type, options: Any, spec: SetSpec | None,
                 members: dict[str, str], ledger: Ledger, profile: str):
        self.spec = spec or SetSpec()
        self.templates = members  # table name -> member name template
        self.main_patterns = list(options.pattern)
        self.match = re.compile(self.spec.match) if self.spec.match else None
        extra = [template_glob(t) for t in members.values()]
        extra += [template_glob(t) for t in (self.spec.done_file, self.spec.manifest) if t]
        self.member_globs = list(extra)
        if self.spec.manifest:
            extra.append("*")  # the files a manifest names may have any name
        self.inner = inner_cls(options.model_copy(update={"pattern": self.main_patterns
                                                          + extra}))
        self.ledger, self.profile = ledger, profile
        self._listed: dict[str, Any] = {}
        self._taken: dict[Path, _Taken] = {}

    # delegated ---------------------------------------------------------------------
    @property
    def settle_every(self) -> float:  # type: ignore[override]
        return float(self.inner.settle_every)

    def poll(self) -> Any:
        return self.inner.poll()

    def fingerprint(self, candidate: Any) -> Any:
        return self.inner.fingerprint(candidate)

    def verify(self, path: Path) -> None:
        self.inner.verify(path)

    def sweep(self) -> int:
        return int(self.inner.sweep())

    def folders(self) -> list[Path]:
        return self.inner.folders() if hasattr(self.inner, "folders") else []

    def __getattr__(self, name: str) -> Any:  # inbox, session, o… of the inner source
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    # which files ---------------------------------------------------------------------
    def is_main(self, name: str) -> bool:
        if self.match is not None:
            return self.match.fullmatch(name) is not None
        return any(fnmatch.fnmatchcase(name, p) for p in self.main_patterns) and not any(
            fnmatch.fnmatchcase(name, g) for g in self.member_globs)

    def names(self, main: str) -> tuple[dict[str, str], list[str]]:
        """The set's member names (table -> file name) and its markers (done-file,
        manifest) for main file ``main``."""
        m = self.match.fullmatch(main) if self.match else None
        members = {t: member_name(tmpl, main, m) for t, tmpl in self.templates.items()}
        markers = [member_name(t, main, m) for t in (self.spec.done_file, self.spec.manifest)
                   if t]
        return members, markers

    def candidates(self) -> list[Any]:
        found = self.inner.candidates()
        self._listed = {_name(c): c for c in found}
        return [c for c in found if self.is_main(_name(c))]

    def _marker_missing(self, main: str) -> bool:
        _, markers = self.names(main)
        return any(m not in self._listed for m in markers)

    def is_ready(self, c: Any, now: float | None = None) -> bool:
        if not self.inner.is_ready(c, now) or self._marker_missing(_name(c)):
            return False
        members, _ = self.names(_name(c))
        return all(self.inner.is_ready(self._listed[n], now) for n in members.values()
                   if n in self._listed)

    def wait_ready(self, c: Any, timeout: float | None = None) -> bool:
        if self._marker_missing(_name(c)) or not self.inner.wait_ready(c, timeout):
            return False
        members, _ = self.names(_name(c))
        return all(self.inner.wait_ready(self._listed[n], timeout) for n in members.values()
                   if n in self._listed)

    # taking a set --------------------------------------------------------------------
    def _done_unmoved(self, main: str) -> str | None:
        """The digest of this main file's set if the ledger has it done but not yet
        archived (a crash between archiving its members and itself)."""
        return tl.done_unmoved(self.ledger, self.profile, main)

    def _missing(self, main: str, members: dict[str, str]) -> list[str]:
        return [f"{n} (table {t})" for t, n in members.items() if n not in self._listed]

    def _waiting(self, main: str, missing: list[str]) -> Waiting:
        return Waiting(f"its set is incomplete: waiting for {', '.join(missing)}")

    @contextmanager
    def fetch(self, c: Any) -> Iterator[Path]:
        main = _name(c)
        members, markers = self.names(main)
        missing = self._missing(main, members)
        done = self._done_unmoved(main) if missing else None
        if missing and done is None:
            raise self._waiting(main, missing)
        with ExitStack() as stack:
            local = stack.enter_context(self.inner.fetch(c))
            taken = _Taken({}, done_digest=done)
            for t, n in members.items():
                if n in self._listed:
                    taken.members[t] = stack.enter_context(self.inner.fetch(self._listed[n]))
            for n in markers:
                if n in self._listed:
                    taken.extras.append(stack.enter_context(self.inner.fetch(self._listed[n])))
            if self.spec.manifest and done is None:
                manifest = next(p for p in taken.extras if p.name == safe(markers[-1]))
                named = self._manifest(manifest, main)
                known = {main, *members.values(), *markers}
                absent = [n for n in named if n not in self._listed]
                if absent:
                    raise self._waiting(main, [f"{n} (named in the manifest)" for n in absent])
                for n in named:
                    if n not in known:
                        taken.extras.append(stack.enter_context(
                            self.inner.fetch(self._listed[n])))
            self._taken[local] = taken
            try:
                yield local
            finally:
                self._taken.pop(local, None)

    @staticmethod
    def _manifest(path: Path, main: str) -> list[str]:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        names = []
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                names.append(line.split()[0])  # a name, maybe followed by a size or digest
        return names

    def members(self, path: Path) -> dict[str, Path]:
        """The local files of ``path``'s set: as fetched, or beside it (a file named on
        the command line). Waiting when one is not there."""
        taken = self._taken.get(path)
        if taken is not None:
            return taken.members
        members, _ = self.names(path.name)
        found = {t: path.parent / n for t, n in members.items()}
        missing = [f"{p.name} (table {t})" for t, p in found.items() if not p.is_file()]
        if missing:
            raise self._waiting(path.name, missing)
        return found

    def digest(self, path: Path, main_digest: str) -> str:
        """The set's digest: the main file's and each member's, by table."""
        from filebridge.digest import digest

        taken = self._taken.get(path)
        if taken is not None and taken.done_digest is not None:
            return taken.done_digest
        h = hashlib.blake2b(main_digest.encode(), digest_size=32)
        for t, p in sorted(self.members(path).items()):
            h.update(f"\0{t}\0{digest(p, self.ledger.digest_kind)}".encode())
        return h.hexdigest()

    # afterwards ------------------------------------------------------------------------
    def _others(self, path: Path) -> list[Path]:
        taken = self._taken.get(path)
        if taken is not None:
            return [*taken.members.values(), *taken.extras]
        members, markers = self.names(path.name)
        return [p for p in (path.parent / n for n in [*members.values(), *markers])
                if p.is_file()]

    def archive(self, path: Path) -> Any:
        for p in self._others(path):  # the main file last: it stands for the set
            self.inner.archive(p)
        return self.inner.archive(path)

    def quarantine(self, path: Path, report: str, target: str | None = None) -> Any:
        for p in self._others(path):
            self.inner.quarantine(p, f"member of the set of {path.name}\n{report}")
        return self.inner.quarantine(path, report, target)

    def error_target(self, path: Path, when: float) -> str:
        return str(self.inner.error_target(path, when))

    def holds(self, target: str) -> bool:
        return bool(self.inner.holds(target))
