"""A stock profile's file end to end: read whole into the inventory, the shops'
orders pulled (figures) or the ERP's movement and document files written (orders),
then what may be sold of each SKU the file touched, for the profile's outputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from filebridge.errors import Bug
from filebridge.records import Batch, FileReport
from filebridge.stock.files import (
    Oversold,
    Quiet,
    availability_batches,
    ingest,
    touched_skus,
    written,
)
from filebridge.stock.jobs import document_writer, movement_writer, pull_orders
from filebridge.stock.jobview import StockJob


def stock_feed(job: StockJob, path: Path, ctx: Any, progress: Any = None
               ) -> Iterator[tuple[Batch, pa.Array | None]]:
    """The batches a stock profile's outputs get: the file is read whole into the
    inventory first, then what may be sold of each SKU it touched. Figures files
    pull the shops' orders before anything is pushed; an orders file's movement
    file for the ERP is published with the file's other outputs."""
    inv = job.inventory
    if inv is None:
        raise Bug("expected a stock profile with its inventory")
    report: FileReport = ctx.report

    def read() -> Iterator[Batch]:
        for batch in job.batches(path, report, ctx.today):
            report.flush()
            if progress:
                progress(report.tally.read)
            yield batch

    role = inv.spec.role
    source = f"web:file:{job.name}" if role == "orders" else f"pos:{job.name}"
    quiet = Quiet()
    touched = ingest(inv, read(), path, ctx.file_id, source, report, quiet)
    report.flush()
    if role == "orders" and not job.sinks:
        # The movement file is the only output: a row is sent when it went into it,
        # unchanged when it moved no stock (a cancelled line, a line as recorded). The
        # SKUs' positions are still worked out, for the oversold figures, as no row.
        ctx.rows.told += sum(n for _, _, n in touched) - quiet.rows
        ctx.rows.unlisted += quiet.rows
        touched = [(sku, line, 0) for sku, line, _ in touched]
    if role == "figures":
        # Sales the shops took since the export, before anything is pushed; SKUs they
        # moved that the file does not list go out with the file's (as no input row).
        moved: set[str] = set()
        pull_orders(job, push=False, moved=moved)
        touched = touched_skus({sku: (line, n) for sku, line, n in touched}, moved)
    if role == "orders" and inv.spec.feedback is not None:
        # The ERP learns of the orders in this file's outputs, published with them.
        writer = movement_writer(job)
        again = {seq for seq, _ in inv.rows.pending_files()}  # written before, not delivered
        files = writer.write(ctx.outbox.routed(inv.spec.feedback.deliver)
                             if inv.spec.feedback.deliver else ctx.outbox)
        ctx.published.append(lambda: writer.published([seq for seq, _, _ in files]))
        ctx.movements = sum(n for _, _, n in files)
        for seq, out, n in files:
            ctx.notes[out] = f"{n} line{'' if n == 1 else 's'} written (file {seq} again: " \
                "it was not delivered yet)" if seq in again else \
                written(n, report.tally.read - report.tally.rejected - report.tally.skipped,
                        quiet)
    if role == "orders" and inv.spec.documents is not None:
        # The new documents go out in a document file of their own, by the writer the
        # order pulls use (numbered, pending until published, acknowledged by number),
        # published with the file's other outputs as its movement file is.
        ctx.documents = quiet.documents
        doc_writer = document_writer(job)
        deliver = inv.spec.documents.deliver
        doc_files = doc_writer.write(ctx.outbox.routed(deliver) if deliver else ctx.outbox)
        ctx.published.append(lambda: doc_writer.published([seq for seq, _, _ in doc_files]))
        for seq, out, n in doc_files:
            ctx.notes[out] = f"{n} order document{'' if n == 1 else 's'} (file {seq})"
    if role == "acks":  # nothing for the shops; the rows are accounted for
        ctx.rows.unlisted += report.tally.read - report.tally.rejected - report.tally.skipped
        return
    found = ctx.oversold = Oversold(f"{job.name}: {path.name}")
    yield from availability_batches(inv, touched, found=found, rows=ctx.rows)
