"""A second local or mounted folder that receives a copy of each file, published
the same way as the original: temporary name, flush, rename, then the done-file."""

from __future__ import annotations

import shutil
from typing import Literal

from pydantic import Field

from filebridge.errors import PermanentTransferError
from filebridge.options import Model, ProfilePath
from filebridge.outputs import Staged
from filebridge.registry import REGISTRY


class LocalDestinationOptions(Model):
    """A local or mounted folder (for example an SMB share the shop imports from)."""

    kind: Literal["local"] = Field(description="a local or mounted folder")
    path: ProfilePath = Field(description="the folder; created when missing")


@REGISTRY.destination("local")
class LocalDestination:
    Options = LocalDestinationOptions

    def __init__(self, options: LocalDestinationOptions):
        self.o = options

    def send(self, files: list[Staged]) -> list[str]:
        sent = []
        for f in files:
            copy = Staged(self.o.path / f.final.name, f.done_file)
            try:
                with open(f.final, "rb") as src, copy.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                sent.append(str(copy.commit()))
            except OSError as e:
                copy.abort()
                raise PermanentTransferError(f"{copy.final}: {e.strerror or e}") from None
        return sent

    def remove(self, names: list[str]) -> None:
        """Delete files sent here before; one already gone is no error."""
        for name in names:
            try:
                (self.o.path / name).unlink(missing_ok=True)
            except OSError as e:
                raise PermanentTransferError(f"{self.o.path / name}: {e.strerror or e}"
                                             ) from None

    def close(self) -> None:
        pass
