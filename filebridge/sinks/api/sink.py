"""The shop API sink (:class:`ApiSink`): the one sink contract over a shop client,
the ledger's outbox and the sender (filebridge/sync/). Its parts that a shop module
implements or configures (options, client, state) are in filebridge/sinks/api/base.py,
which the sync package uses without this class."""

from __future__ import annotations

import json
import logging
from typing import ClassVar

from filebridge.crashpoints import crash_point
from filebridge.enums import STATUSES
from filebridge.errors import Bug
from filebridge.ledger.changelog import ChangeLog, rekey
from filebridge.records import Batch
from filebridge.sinks.api.base import ApiSinkOptions, ShopClient, State
from filebridge.sinks.base import JobInfo, Sink, SinkContext, default_id
from filebridge.sync.changes import ApiSync, refused_keys
from filebridge.sync.send import drain

log = logging.getLogger("filebridge")


class ApiSink(Sink):
    """The registry entry of a shop API sink. A shop module subclasses it, names its
    ``Options`` (ApiSinkOptions plus credentials) and ``Client``, and registers it
    with ``@REGISTRY.sink("<shop>_api")``.

    Per file it follows the one sink contract: ``write`` compares each batch with
    what the shop acknowledged and stages the changes in the ledger's outbox
    (filebridge.sync.changes); ``finish`` stages the missing-products policy;
    ``verdict`` is the circuit breaker; ``settle`` queues (or holds) the changes,
    sends them, and marks each row by the shop's answer: refused rows become
    rejects with the shop's words, unsent ones stay queued."""

    Options: ClassVar[type[ApiSinkOptions]]
    Client: ClassVar[type[ShopClient]]
    # True for a shop that cannot schedule a sale and is sent the price of the day:
    # whether a record's sale is in force is then part of what tells it changed, so
    # the first run of the day a sale starts or ends sends it again.
    DAY_PRICE: ClassVar[bool] = False
    # canonical field -> values the shop module translates (filebridge.enums)
    ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"status": STATUSES}

    def __init__(self, options: ApiSinkOptions):
        super().__init__(options)
        self.o: ApiSinkOptions = options

    @property
    def sink(self) -> ApiSink:  # the shop's options and registry class, for pullers
        return self

    def bind(self, job: JobInfo) -> None:
        super().bind(job)
        if self.o.id is not None and rekey(job.ledger, job.state, default_id(self.o), self.o.id,
                                           only_if_new=True):
            log.info("%s: the shop state kept under %s now goes by its id %s", job.profile,
                     default_id(self.o), self.o.id)
        self.log = ChangeLog(job.ledger, job.state, self.id)
        self.client = type(self).Client(self.o, State(self.log.siblings))
        if job.photos is not None:
            from filebridge.photos.store import PhotoStore

            self.client.photos = PhotoStore(job.photos)
        self.last_error: str | None = None

    def drain(self) -> str | None:
        """Send what is queued; the error that stopped it, if any."""
        self.last_error = drain(self.log, self.client, self.o).error
        return self.last_error

    def start(self, ctx: SinkContext) -> None:
        super().start(ctx)
        self.sync = ApiSync(self, self.id, self.log, ctx.product, ctx.file_id, ctx.run_id,
                            ctx.today)

    def write(self, batch: Batch) -> None:
        if not (self.ctx is not None and self.ctx.report is not None):
            raise Bug("expected self.ctx is not None and self.ctx.report is not None")
        rows = self.ctx.rows
        send, refused = self.sync.write(batch, self.ctx.report, rows)
        if rows is not None:
            rows.sent(batch, send)

    def finish(self) -> None:
        if self.o.missing != "ignore":
            if not (self.job is not None and self.ctx is not None):
                raise Bug("expected self.job is not None and self.ctx is not None")
            field_ = self.o.fields.get("sku", "sku")
            self.sync.missing(refused_keys(self.job, self.ctx.report, field_)
                              if self.ctx.report is not None else None)

    def verdict(self, read: int, last_read: int | None) -> str | None:
        return self.sync.verdict(read, last_read)

    def settle(self, held: bool) -> None:
        if not (self.ctx is not None and self.ctx.file_id is not None):
            raise Bug("expected self.ctx is not None and self.ctx.file_id is not None")
        self.sync.commit(held)
        crash_point("api.queued")
        if not held:
            error = self.drain()
            if error:
                log.warning("%s: %s: %s", self.job.profile if self.job else "", self.id,
                            error)
        rows = self.ctx.rows
        if rows is None:
            return
        for ordinal, line, key, status, error, record in self.log.outcomes(self.ctx.file_id):
            if ordinal is None:  # the missing-products policy: no input row
                continue
            if status == "rejected":
                rows.refuse_at(ordinal, line, None,
                               f"{self.id}: the shop refused {key}: {error}",
                               json.loads(record))
            elif status in ("queued", "held"):
                rows.queued_at([ordinal])

    def close(self) -> None:
        pass  # the client lives as long as the job: see shutdown()

    def shutdown(self) -> None:
        self.client.close()
