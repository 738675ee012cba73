"""Which records changed since the last delivered run, per sink and key.

A record's hash covers every mapped field; the ledger keeps, per sink and key,
the hash of what was last delivered. New hashes are staged while a file is in
flight and become the snapshot only when the file is finished.
"""

from __future__ import annotations

from hashlib import blake2b

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.ledger.sqlite import SqliteLedger
from filebridge.records import Batch
from filebridge.sinks.base import text_column


def row_hashes(batch: Batch) -> list[int]:
    """A 64-bit content hash per row over all fields (field order matters)."""
    cols = [text_column(batch.column(n)) for n in batch.names]
    joined = pc.binary_join_element_wise(*cols, "\x1f") if len(cols) > 1 else cols[0]
    return [int.from_bytes(blake2b(s.encode(), digest_size=8).digest(), "big", signed=True)
            for s in joined.to_pylist()]


class Delta:
    def __init__(self, ledger: SqliteLedger, profile: str, sink: str, key: str):
        self.ledger, self.profile, self.sink, self.key = ledger, profile, sink, key

    def changed(self, batch: Batch) -> pa.Array:
        """Mask of rows that are new or differ from the last delivery; stages them."""
        keys = pc.cast(batch.column(self.key), pa.string()).to_pylist()
        hashes = row_hashes(batch)
        known = self.ledger.known_hashes(self.profile, self.sink,
                                         [k for k in keys if k is not None])
        mask = [known.get(k) != h for k, h in zip(keys, hashes)]
        self.ledger.stage_hashes(self.sink, ((k, h) for k, h, m in zip(keys, hashes, mask)
                                             if m and k is not None))
        return pa.array(mask, pa.bool_())
