"""Published photos the photo folder no longer holds (replaced by a new picture
under the same name, or removed) are deleted from the public folder, but only
``public.keep_replaced`` after they were first found missing: shop import files
written earlier still name the old URL, and shops import later. A photo that comes
back before then is simply kept.

Crash-safe, ledger first: the rows due are marked ``removing`` in one transaction,
then their files are deleted, then the rows are forgotten. A crash in between
leaves ``removing`` rows that the next scan removes again (deleting a missing file
is no error); one whose picture came back is published again under its name
instead (filebridge/photos/folder.py treats ``removing`` as not published).

The ``public.deliver`` destinations (a CDN's SFTP, a local folder) lose their
copies in the same step, after the public folder's; a destination that fails
leaves the rows ``removing``, tried again at the next scan.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from filebridge.crashpoints import crash_point
from filebridge.errors import PermanentSinkError, RetryableSinkError
from filebridge.ledger import images as ledger_images
from filebridge.outputs import fsync_dir

if TYPE_CHECKING:
    from filebridge.photos.folder import Photos

log = logging.getLogger("filebridge")


def sweep(photos: Photos) -> int:
    """Retire and remove as due; the number of files deleted. A photo store (photos
    without a public folder) keeps its copies: queued API changes may still upload them."""
    if photos.spec.public is None:
        return 0
    current = {d for *_, d in ledger_images.hashed(photos.ledger, photos.profile).values()}
    due = ledger_images.retire(photos.ledger, photos.profile, photos.variant, current,
                               time.time(), photos.spec.public.keep_replaced)
    if not due:
        return 0
    crash_point("photos.removing")
    public = photos.spec.public.path
    deleted, names = 0, []
    for _, _, name in due:
        if not name or ledger_images.in_use(photos.ledger, name):
            continue  # another profile publishes the same picture to it
        names.append(name)
        path = public / name
        if path.is_file():
            path.unlink()
            deleted += 1
    if deleted:
        fsync_dir(public)
        log.info("%s: %d replaced photo(s) deleted from %s", photos.profile, deleted, public)
    deliver = photos.spec.public.deliver
    if names and deliver and photos.delivery is not None:
        try:
            photos.delivery.remove(deliver, names)
        except (RetryableSinkError, PermanentSinkError) as e:
            log.warning("%s: replaced photos not yet removed: %s; tried again at the next "
                        "run", photos.profile, e)
            return deleted
    crash_point("photos.removed")
    ledger_images.removed(photos.ledger, photos.profile, due)
    return deleted
