"""Sending what a shop API sink's outbox holds: in batches, a product's changes on one
lane so no two threads write the same product, settled in the ledger batch by batch
(a crash repeats at most the batch in flight); a first load through the shop's bulk
API when it has one."""

from __future__ import annotations

import logging
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from filebridge.errors import PermanentSinkError, RetryableSinkError
from filebridge.ledger.changelog import ChangeLog, Pending
from filebridge.sinks.api.base import ApiSinkOptions, Result, ShopClient

log = logging.getLogger("filebridge")

@dataclass
class Drained:
    sent: int = 0
    rejected: int = 0
    error: str | None = None
    permanent: bool = False


def lanes(pending: list[Pending], size: int, parallel: int) -> list[list[list[Pending]]]:
    """Batches of at most ``size`` per lane. A product's changes all go to one lane,
    so two threads never create or rewrite the same product at once, and to one
    batch unless they are more than ``size``: a shop then builds the product from
    all of them at once (variants created in their order, images in theirs)."""
    by_lane: list[list[list[Pending]]] = [[] for _ in range(parallel)]
    for p in sorted(pending, key=lambda p: (p.product or p.change.key, p.change.key)):
        group = p.product or p.change.key
        lane = by_lane[zlib.crc32(group.encode()) % parallel]
        if lane and (lane[-1][-1].product or lane[-1][-1].change.key) == group:
            lane[-1].append(p)
        else:
            lane.append([p])
    out = []
    for groups in by_lane:
        batches: list[list[Pending]] = []
        for items in groups:
            if len(items) > size:
                batches += [items[i:i + size] for i in range(0, len(items), size)]
            elif batches and len(batches[-1]) + len(items) <= size:
                batches[-1] += items
            else:
                batches.append(list(items))
        if batches:
            out.append(batches)
    return out


def drain(log_: ChangeLog, client: ShopClient, o: ApiSinkOptions) -> Drained:
    """Send what is queued for this sink until the queue is empty or the shop fails.
    What could not be sent stays queued for the next run."""
    size = min(o.limits.batch_size or client.batch_size, client.max_batch)
    parallel = o.limits.parallel or client.parallel
    out = Drained()

    def run_lane(batches: list[list[Pending]]) -> None:
        for chunk in batches:
            if out.error:
                return
            try:
                doubt = [p.change for p in chunk if p.change.attempts > 0]
                if doubt:  # a crash or a lost answer: were they applied already?
                    done = [r for r in client.confirm(doubt) if r.ok]
                    if done:
                        _settle(log_, chunk, done, out)
                        ids = {r.id for r in done}
                        chunk = [p for p in chunk if p.change.id not in ids]
                results = client.send([p.change for p in chunk]) if chunk else []
            except (RetryableSinkError, PermanentSinkError) as e:
                out.error, out.permanent = str(e), isinstance(e, PermanentSinkError)
                log_.note_error([p.change.id for p in chunk], str(e))
                return
            _settle(log_, chunk, results, out)

    threshold = getattr(o, "bulk_threshold", None)
    bulk = getattr(client, "send_bulk", None)
    if threshold and bulk is not None and log_.queued() >= threshold:
        _bulk(log_, bulk, out)  # a first load: the shop's bulk API, then the rest as usual
    with ThreadPoolExecutor(parallel, thread_name_prefix="send") as pool:
        while not out.error:
            pending = log_.pending(size * parallel * 8)
            if not pending:
                break
            before = out.sent + out.rejected
            list(pool.map(run_lane, lanes(pending, size, parallel)))
            if out.sent + out.rejected == before and not out.error:
                out.error = "the shop answered none of the changes sent"
    if out.error:
        log.warning("%s: %s; what was not sent stays queued", log_.sink, out.error)
    return out


BULK_CHUNK = 20_000


def _bulk(log_: ChangeLog, bulk: Any, out: Drained) -> None:
    while not out.error and (pending := log_.pending(BULK_CHUNK)):
        try:
            results = bulk([p.change for p in pending])
        except (RetryableSinkError, PermanentSinkError) as e:
            out.error, out.permanent = str(e), isinstance(e, PermanentSinkError)
            log_.note_error([p.change.id for p in pending], str(e))
            return
        _settle(log_, pending, results, out)


def _settle(log_: ChangeLog, chunk: list[Pending], results: list[Result], out: Drained) -> None:
    with log_.lock:
        log_.settle(chunk, results)
        for r in results:
            if r.ok:
                out.sent += 1
            else:
                out.rejected += 1
