"""The photo folder, once per input file: every photo matched by the pattern, its
digest (SHA-256 of the bytes, read in 1 MiB chunks), checked and published the
first time its digest is seen, then its URL given to the records it names.

Published names are ``<digest>.<ext>`` (``<digest>-<rendition>.<ext>`` for web
sizes): the same picture dropped again, renamed or moved to another product keeps
its URL, so nothing is copied again and no shop hash changes; a changed picture
gets a new URL. The copy is atomic (filebridge/outputs.py), delivered to the
``public.deliver`` destinations (filebridge/destinations/delivery.py: SFTP uploads are atomic
too) and only then noted in the ledger, so a crash or a failed upload in between
only copies it again under the same name.
Without ``public`` the same copy goes to the profile's photo store instead, and the
records carry ``photo:<name>`` references the shop API sinks upload themselves
(filebridge/photos/store.py).
A published file the folder no longer holds is deleted ``public.keep_replaced``
after (filebridge/photos/retire.py): an old URL stays valid meanwhile for shop files
that still name it. Memory: the index (a name and a URL per photo), never the photos' bytes beyond
one at a time.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from filebridge.crashpoints import crash_point
from filebridge.errors import Bug
from filebridge.ledger import images as ledger_images
from filebridge.outputs import Staged
from filebridge.photos.check import Refused, check, tag, web_bytes
from filebridge.photos.ready import complete
from filebridge.photos.retire import sweep
from filebridge.photos.spec import PhotosSpec
from filebridge.photos.store import ref, sha256
from filebridge.records import Batch, FileReport, Reject

log = logging.getLogger("filebridge")


class Photos:
    """The ``photos:`` of one profile, bound to its ledger."""

    def __init__(self, spec: PhotosSpec, ledger: Any, profile: str, delivery: Any = None,
                 scratch: Path | None = None, store: Path | None = None):
        self.spec, self.ledger, self.profile = spec, ledger, profile
        # Where copies go: the public folder, or the store the API sinks read.
        if spec.public is not None:
            self.target = spec.public.path
        elif store is not None:
            self.target = store
        else:
            raise Bug("photos without public need a store folder")
        self.delivery = delivery
        # Downloads from an SFTP photo folder land here (the job's scratch root: the
        # restart sweep removes what a dead process left).
        self.scratch = scratch or Path(".filebridge-scratch") / profile
        self.remote: Any = None
        self.variant = tag(spec.web)
        self.regex = spec.regex()
        self.copied = 0  # photos published by this process (for tests and the bench)

    def url(self, name: str) -> str:
        """The published photo's URL, or its ``photo:`` reference to the store."""
        if self.spec.public is None:
            return ref(name)
        base = self.spec.public.url
        return base + ("" if base.endswith("/") else "/") + name

    def scan(self, report: FileReport) -> PhotoIndex:
        """Every photo in the folder, checked and published as needed; refused and
        unmatched files are warnings in the file's report (naming the photo)."""
        index = PhotoIndex(self)
        new: dict[str, tuple[str, str, str | None, str | None]] = {}
        if self.spec.sftp is not None:
            from filebridge.photos.remote import RemoteFolder  # paramiko: only when used

            if self.remote is None:
                self.remote = RemoteFolder(self.spec.sftp, self.scratch)
            self.remote.scan(self, report, index, new)
        else:
            self._scan_local(report, index, new)
        if new:
            ledger_images.record(self.ledger, self.profile, self.variant,
                                 [(d, *v) for d, v in new.items()])
        sweep(self)  # replaced photos, their grace period over
        report.flush()
        return index

    def match(self, name: str, report: FileReport) -> tuple[tuple[str, ...], int] | None:
        """The pattern's field values and the position in a photo's name; None (and a
        warning) when the pattern does not match it."""
        m = self.regex.fullmatch(name)
        if m is None:
            report.warn(None, self.spec.field, f"photo {name}: does not match the "
                        f"pattern {self.spec.pattern}; not used")
            return None
        return tuple(m.group(f) for f in self.spec.fields), int(m.group("position"))

    def _scan_local(self, report: FileReport, index: PhotoIndex,
                    new: dict[str, tuple[str, str, str | None, str | None]]) -> None:
        folder = self.spec.folder
        if folder is None or not folder.is_dir():
            raise ValueError(f"photos: folder {folder} does not exist")
        found: list[tuple[str, tuple[str, ...], int, str]] = []  # name, key, position, digest
        # Local photos are hashed every time (a local read is cheap); the ledger's
        # photo_files is what the folder holds, for removing replaced photos.
        hashed = ledger_images.hashed(self.ledger, self.profile)
        noted: list[tuple[str, int, int, str]] = []
        for name, key, position in complete(folder, self.spec.local_ready, self, report):
            try:
                st = os.stat(folder / name)
                found.append((name, key, position, sha256(folder / name)))
            except FileNotFoundError:
                continue  # gone since it was listed
            if hashed.get(name) != (st.st_size, st.st_mtime_ns, found[-1][3]):
                noted.append((name, st.st_size, st.st_mtime_ns, found[-1][3]))
        gone = sorted(set(hashed) - set(os.listdir(folder)))
        if noted or gone:
            ledger_images.note_hashed(self.ledger, self.profile, noted, gone)
        have = ledger_images.known(self.ledger, self.profile, self.variant,
                                   sorted({d for *_, d in found}))
        for name, key, position, digest in found:
            self.take(name, key, position, digest, have.get(digest), folder / name,
                      report, index, new)

    def known(self, digest: str) -> ledger_images.Image | None:
        """The ledger's row for one picture's rendition."""
        return ledger_images.known(self.ledger, self.profile, self.variant,
                                   [digest]).get(digest)

    def published(self, row: ledger_images.Image | None) -> bool:
        """Whether the ledger's row stands for a copy still in the public folder (or
        the store)."""
        return row is not None and row.status == "published" and bool(row.name) and \
            (self.target / (row.name or "")).is_file()

    def take(self, name: str, key: tuple[str, ...], position: int, digest: str,
             row: ledger_images.Image | None, path: Path, report: FileReport,
             index: PhotoIndex, new: dict[str, tuple[str, str, str | None, str | None]]
             ) -> None:
        """One photo by its digest: its URL from the ledger, or checked and published
        from ``path`` now (once per digest), or refused with a warning."""
        if row is not None and self.published(row) and row.name:
            index.add(key, position, name, self.url(row.name))
            return
        if row is not None and row.status == "refused":
            report.warn(None, self.spec.field, f"photo {name}: refused: {row.reason}")
            return
        if digest in new:  # the same picture twice in this folder: one copy
            status, published, reason = new[digest][1:]
        else:
            try:
                published, status, reason = self._publish(path, digest), "published", None
            except Refused as e:
                published, status, reason = None, "refused", str(e)
                log.warning("%s: photo %s refused: %s", self.profile, name, e)
            new[digest] = (name, status, published, reason)
        if status == "refused":
            report.warn(None, self.spec.field, f"photo {name}: refused: {reason}")
        else:
            if published is None:
                raise Bug("expected published is not None")
            index.add(key, position, name, self.url(published))

    def _publish(self, path: Path, digest: str) -> str:
        """Check the photo and copy it (or its web size) to the public folder, then
        to the ``deliver:`` destinations (or to the store); its published name."""
        checked = check(path, self.spec.max_pixels)
        web = web_bytes(path, checked, self.spec.web) if self.spec.web else None
        w = self.spec.web
        suffix = "" if w is None else f"-w{w.max_side}q{w.quality}"
        name = f"{digest}{suffix}.{web[1] if web else checked.ext}"
        staged = Staged(self.target / name,
                        deliver=self.spec.public.deliver if self.spec.public else ())
        try:
            with staged.open("wb") as dst:
                if web is not None:
                    dst.write(web[0])
                else:
                    with open(path, "rb") as src:
                        shutil.copyfileobj(src, dst, 1 << 20)
            crash_point("photos.staged")
            staged.commit()
        except BaseException:
            staged.abort()
            raise
        if staged.deliver:
            self.delivery.send([staged])  # a failure leaves the input to be redone
        crash_point("photos.copied")
        self.copied += 1
        return name


class PhotoIndex:
    """Photo URLs by the pattern's field values, in position order."""

    def __init__(self, photos: Photos):
        self.photos = photos
        self.spec = photos.spec
        self._by: dict[tuple[str, ...], dict[int, tuple[str, str]]] = defaultdict(dict)

    def add(self, key: tuple[str, ...], position: int, name: str, url: str) -> None:
        at = self._by[key]
        if position in at:  # two files at one place (e.g. _1.jpg and _1.png): the first
            return
        at[position] = (name, url)

    def urls(self, key: tuple[str, ...]) -> list[str]:
        at = self._by.get(key)
        return [at[p][1] for p in sorted(at)] if at else []

    def apply(self, batch: Batch, report: FileReport) -> Batch:
        """The batch with the photos' URLs in the image field; a record with none is a
        warning (or a reject, with ``missing: reject``)."""
        spec = self.spec
        missing = [f for f in spec.fields if f not in batch.names]
        if missing:
            raise ValueError(f"photos: pattern field(s) {', '.join(missing)} are not in the "
                             f"mapped records ({', '.join(batch.names)})")
        cols = [batch.column(f).to_pylist() for f in spec.fields]
        own = batch.column(spec.field).to_pylist() if spec.field in batch.names else None
        out: list[list[str] | None] = []
        keep: list[bool] = []
        lines = batch.lines.to_pylist()
        for i in range(len(batch)):
            key = tuple("" if c[i] is None else str(c[i]).strip() for c in cols)
            urls = self.urls(key)
            value: Any = urls or (own[i] if own is not None else None)
            if isinstance(value, str):  # a mapped comma list of URLs
                value = [u.strip() for u in value.split(",") if u.strip()]
            ok = bool(value)
            keep.append(ok or spec.missing == "warn")
            out.append(value or None)
            if not ok:
                what = ", ".join(f"{f} {v}" for f, v in zip(spec.fields, key, strict=True))
                reason = f"no photo for {what} in {spec.where}"
                if spec.missing == "warn":
                    report.warn(lines[i], spec.field, reason)
                else:
                    report.reject(Reject(lines[i], spec.field, reason,
                                         batch.raw_rows([i])[0]))
        col = pa.array(out, pa.list_(pa.string()))
        table = batch.table
        if spec.field in batch.names:
            table = table.set_column(batch.names.index(spec.field), spec.field, col)
        else:
            table = table.append_column(spec.field, col)
        batch = batch.with_table(table)
        if not all(keep):
            batch = batch.filter(pa.array(keep))
        return batch
