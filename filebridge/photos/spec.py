"""The profile's ``photos:`` section."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from filebridge.options import Deliver, Duration, Model, ProfilePath
from filebridge.sources.local import Ready
from filebridge.transport.options import SftpServer

# Placeholders of a file name pattern that are not mapped fields.
POSITION, EXT = "position", "ext"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PublicFolder(Model):
    path: ProfilePath = Field(description="the folder a web server or CDN serves (local)")
    url: str = Field(pattern=r"^https?://", description="the URL of that folder, e.g. "
                     "https://cdn.example.com/photos/ (a photo's URL is this plus its name)")
    deliver: Deliver = Field([], description="destinations each published photo is also "
                             "sent to (e.g. the CDN's SFTP), before any record names it")
    keep_replaced: Duration = Field(7 * 86400.0, description="a published photo no longer "
                                    "in the photo folder (replaced or removed) is deleted "
                                    "from path and the deliver destinations this long "
                                    "after (e.g. 7d): shop files "
                                    "written before may still name its URL")


class PhotoServer(SftpServer):
    """The photo folder on an SFTP server: the connection options, secrets and pinned
    host keys of the SFTP source. Photos are read, never moved or deleted; a photo is
    taken once complete (the source's ``ready`` rule) and downloaded to scratch space
    one at a time."""

    path: str = Field(min_length=1, description="the photo folder on the server (relative "
                      "to the login folder unless it starts with /)")
    ready: Ready = Field(default_factory=Ready, description="when a photo is complete: size "
                         "and mtime unchanged for stable_for, and its done_file there if "
                         "given (left in place: the folder is read, not consumed)")


class WebSize(Model):
    max_side: int = Field(2048, ge=16, le=20000, description="longest side in pixels; "
                          "larger photos are scaled down (never up)")
    format: Literal["jpeg", "webp", "png"] = Field("jpeg", description="the published "
                                                  "format (a photo already in it and small "
                                                  "enough is published as it is)")
    quality: int = Field(85, ge=1, le=100, description="jpeg/webp quality")


class PhotosSpec(Model):
    """A folder of photos for the records: ``pattern`` names mapped fields in braces,
    plus ``{position}`` (digits: the photo's place) and optionally ``{ext}``; e.g.
    ``"{style}_{colour}_{position}.jpg"`` gives D25FW0101_001_1.jpg to every record
    whose style is D25FW0101 and colour 001, first. Alt text comes from the mapping
    (``image_alt`` and its translations)."""

    folder: ProfilePath | None = Field(None, description="where the photos are dropped "
                                       "(local or mounted); or give sftp")
    sftp: PhotoServer | None = Field(None, description="the photos are dropped on an SFTP "
                                     "server instead of a local folder")
    ready: Ready | None = Field(None, description="a local folder: when a photo is "
                                "complete: size and mtime unchanged for stable_for (2s "
                                "unless given), and its done_file there if given (left in "
                                "place); an SFTP folder has sftp.ready")
    pattern: str = Field(description="file name pattern: {field} placeholders for mapped "
                         "fields, {position} for the order, {ext} for any extension; "
                         "matched case-insensitively")
    public: PublicFolder | None = Field(None, description="where photos are published, "
                                       "and their URL; without it the records carry "
                                       "photo:<sha256>.<ext> references to the store, "
                                       "which the shop API sinks upload themselves (shop "
                                       "files need public)")
    store: ProfilePath | None = Field(None, description="without public: the folder "
                                      "checked photos are kept in for the API sinks to "
                                      "upload (default: photos/<profile> beside the "
                                      "ledger)")
    field: str = Field("images", description="the mapped field that gets the URLs, in "
                       "position order (a record with no photo keeps its own value)")
    max_pixels: int = Field(40_000_000, ge=1, description="photos with more pixels are "
                            "refused (decompression bombs)")
    web: WebSize | None = Field(None, description="publish web sizes instead of the "
                                "originals")
    missing: Literal["warn", "reject"] = Field("warn", description="a record with no "
                                               "photo: sent and listed as a warning, or "
                                               "rejected")

    @property
    def fields(self) -> list[str]:
        return [n for n in _PLACEHOLDER.findall(self.pattern) if n not in (POSITION, EXT)]

    @property
    def local_ready(self) -> Ready:
        """The local folder's completeness rule."""
        return self.ready or Ready()

    @property
    def where(self) -> str:
        """The photo folder, for messages."""
        s = self.sftp
        if s is None:
            return str(self.folder)
        return f"sftp://{s.user}@{s.host}:{s.port}" + (s.path if s.path.startswith("/")
                                                         else "/~/" + s.path)

    @model_validator(mode="after")
    def _check(self) -> PhotosSpec:
        names = _PLACEHOLDER.findall(self.pattern)
        if names.count(POSITION) != 1:
            raise ValueError("pattern: needs {position} exactly once")
        if not self.fields:
            raise ValueError("pattern: needs at least one mapped field, e.g. {sku}")
        if len(set(names)) != len(names):
            raise ValueError("pattern: a placeholder appears twice")
        if "/" in self.pattern or "\\" in self.pattern:
            raise ValueError("pattern: a file name, not a path")
        if (self.folder is None) == (self.sftp is None):
            raise ValueError("give folder (local) or sftp (a server), one of them")
        if self.ready is not None and self.sftp is not None:
            raise ValueError("ready: for a local folder; give sftp.ready for an SFTP one")
        src = self.folder
        for what, pub in (("public.path", self.public.path if self.public else None),
                          ("store", self.store)):
            if src is not None and pub is not None and (
                    pub == src or src in pub.parents or pub in src.parents):
                raise ValueError(f"{what} and folder must not hold one another")
        if self.public is not None and self.store is not None:
            raise ValueError("store is for photos without a public folder: give one of "
                             "public and store")
        return self

    def regex(self) -> re.Pattern[str]:
        out, pos = [], 0
        for m in _PLACEHOLDER.finditer(self.pattern):
            out.append(re.escape(self.pattern[pos:m.start()]))
            name = m.group(1)
            out.append(r"(?P<position>\d+)" if name == POSITION else
                       r"(?P<ext>[A-Za-z0-9]+)" if name == EXT else f"(?P<{name}>.+?)")
            pos = m.end()
        out.append(re.escape(self.pattern[pos:]))
        return re.compile("".join(out), re.IGNORECASE)
