"""The ledger's schema, one for every store and both engines, and its migrations.

The DDL is written in SQLite's types; :func:`filebridge.ledger.backend.pg_ddl` turns it
into PostgreSQL's. ``schema_version`` holds the number of the last migration applied;
:func:`migrate` applies the rest in order, in one write transaction, so two processes
opening a ledger at once do it once. A ledger made before versioning (no
``schema_version`` table) is taken through every migration; each of them is written
to find its change possibly made already (tables created if missing, columns added if
missing).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress

from filebridge import digest
from filebridge.errors import LedgerError
from filebridge.ledger.backend import Backend, Conn

# Version 1: files and runs, snapshots, outbox and shop state, catalog memory and
# follow-ups (ledger/sqlite.py), the shared inventory (ledger/inventory.py), schedules
# (schedule.py), code tables and waiting files (tables/); outbox.ord and runs.pid/host
# came later (2, 3).
BASE = """CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL DEFAULT 'running',  -- running | done | failed | interrupted
    files INTEGER NOT NULL DEFAULT 0,
    tally TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    digest TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,          -- processing | done | rejecting | rejected | duplicate
                                   -- | failed (left to retry, e.g. the disk was full);
                                   -- rejecting: moving to moved_to, then rejected
    claimed REAL NOT NULL,
    finished REAL,
    run_id INTEGER REFERENCES runs(id),
    tally TEXT NOT NULL DEFAULT '{}',
    moved_to TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS files_by_digest ON files(profile, digest, status);
CREATE INDEX IF NOT EXISTS files_by_name ON files(profile, name, status);
-- What each sink last received, per key: an Arrow table (key, hash) kept as one
-- compressed blob per sink, so a run loads and saves it whole, column-wise.
CREATE TABLE IF NOT EXISTS snapshots (
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    data BLOB NOT NULL,
    rows INTEGER NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (profile, sink)
);
-- Shop APIs (see filebridge/ledger/changelog.py): what each shop acknowledged per key, and
-- every change written before it is sent.
CREATE TABLE IF NOT EXISTS shop_state (
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    hash INTEGER NOT NULL,
    product TEXT,
    record TEXT NOT NULL,
    remote TEXT NOT NULL DEFAULT '{}',
    gone TEXT,                      -- zero | unpublish: the missing policy acted on it
    updated REAL NOT NULL,
    PRIMARY KEY (profile, sink, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS shop_state_product ON shop_state(profile, sink, product);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    op TEXT NOT NULL,               -- upsert | zero | unpublish | delete
    hash INTEGER NOT NULL,
    product TEXT,
    record TEXT NOT NULL,
    idem TEXT NOT NULL,
    file_id INTEGER,
    run_id INTEGER,
    line INTEGER,
    status TEXT NOT NULL,           -- staged | held | queued | sent | rejected | superseded
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    UNIQUE (file_id, sink, key)
);
-- Shop files (filebridge/catalog/memory.py): what each product sink last wrote
-- per SKU, so a product is always written whole (every variant, every option
-- value) and a file that changes one variant does not orphan the others.
CREATE TABLE IF NOT EXISTS catalog (
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    product TEXT,
    hash INTEGER NOT NULL,
    record TEXT NOT NULL,
    file_id INTEGER,
    pos INTEGER NOT NULL DEFAULT 0, -- when the key was first written: its place among siblings
    updated REAL NOT NULL,
    PRIMARY KEY (profile, sink, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS catalog_product ON catalog(profile, sink, product);
CREATE TABLE IF NOT EXISTS catalog_staged (
    file_id INTEGER NOT NULL,
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    product TEXT,
    hash INTEGER NOT NULL,
    record TEXT NOT NULL,
    pos INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS catalog_staged_file ON catalog_staged(file_id);
-- Files whose ack said some rows were queued for a shop (filebridge/followup.py): the
-- rows (ordinals, weights), saved with the file's outcome; a follow-up ack goes to the
-- ERP once their changes are settled, then ``written`` is set.
CREATE TABLE IF NOT EXISTS followups (
    file_id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    ordinals BLOB NOT NULL,
    weights BLOB,
    written REAL,
    path TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(profile, sink, status, id);
CREATE INDEX IF NOT EXISTS outbox_by_run ON outbox(run_id, status);

-- Shared stock (filebridge/ledger/inventory.py; its rules in filebridge/stock.py).
CREATE TABLE IF NOT EXISTS erp_stock (
    inventory TEXT NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL,
    qty INTEGER NOT NULL, as_of REAL NOT NULL, file_id INTEGER, record TEXT,
    PRIMARY KEY (inventory, sku, location)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS erp_stock_staged (
    inventory TEXT NOT NULL, file_id INTEGER NOT NULL, sku TEXT NOT NULL,
    location TEXT NOT NULL, qty INTEGER NOT NULL, as_of REAL NOT NULL, line INTEGER,
    record TEXT
);
CREATE INDEX IF NOT EXISTS erp_stock_staged_file ON erp_stock_staged(file_id, sku);
CREATE TABLE IF NOT EXISTS order_lines (
    inventory TEXT NOT NULL, source TEXT NOT NULL, order_id TEXT NOT NULL,
    line_id TEXT NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL,
    qty INTEGER NOT NULL, status TEXT, placed REAL, changed REAL,
    PRIMARY KEY (inventory, source, order_id, line_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS movements (
    id INTEGER PRIMARY KEY,
    inventory TEXT NOT NULL,
    source TEXT NOT NULL,           -- web:<shop> | pos:<profile>
    kind TEXT NOT NULL,             -- sale | cancel | refund | store_sale | store_return
                                    -- | store_correction
    order_id TEXT NOT NULL, line_id TEXT NOT NULL, version INTEGER NOT NULL,
    sku TEXT NOT NULL, location TEXT NOT NULL,
    qty INTEGER NOT NULL,           -- signed: negative leaves the stock
    occurred REAL NOT NULL, recorded REAL NOT NULL,
    seq INTEGER,                    -- the feedback file that told the ERP
    exported REAL, acked REAL,
    UNIQUE (inventory, source, order_id, line_id, version)
);
CREATE INDEX IF NOT EXISTS movements_sku ON movements(inventory, sku);
CREATE INDEX IF NOT EXISTS movements_open ON movements(inventory, acked, seq);
CREATE TABLE IF NOT EXISTS cursors (
    inventory TEXT NOT NULL, source TEXT NOT NULL, cursor TEXT, updated REAL,
    PRIMARY KEY (inventory, source)
);
CREATE TABLE IF NOT EXISTS inventories (
    inventory TEXT PRIMARY KEY, rules TEXT NOT NULL   -- web, safety, erp_knows of its figures
);
CREATE TABLE IF NOT EXISTS feedback_files (
    inventory TEXT NOT NULL, seq INTEGER NOT NULL, path TEXT NOT NULL,
    status TEXT NOT NULL,            -- pending | published
    movements INTEGER NOT NULL, created REAL NOT NULL, published REAL,
    PRIMARY KEY (inventory, seq)
);
-- What a movement file said of its SKUs oversold, kept so that a pending file
-- written again says the same.
CREATE TABLE IF NOT EXISTS feedback_oversold (
    inventory TEXT NOT NULL, seq INTEGER NOT NULL, sku TEXT NOT NULL, units INTEGER NOT NULL,
    PRIMARY KEY (inventory, seq, sku)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sequences (
    inventory TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (inventory, name)
);

-- Scheduled jobs (filebridge/schedule.py).
CREATE TABLE IF NOT EXISTS schedules (
    profile TEXT NOT NULL,
    job TEXT NOT NULL,
    anchor REAL NOT NULL,       -- first seen: no occurrence before it is due
    through REAL,               -- every occurrence up to here is taken care of
    due REAL,                   -- the occurrence the last run was for
    started REAL,
    finished REAL,
    status TEXT,                -- running | done | failed | interrupted
    error TEXT,
    skipped REAL,               -- the last occurrence skipped (previous run still going)
    runs INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    skips INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (profile, job)
) WITHOUT ROWID;

-- Code tables and files waiting for them (filebridge/tables/).
CREATE TABLE IF NOT EXISTS table_versions (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    name TEXT NOT NULL,             -- the table's name in the profile
    file TEXT NOT NULL,             -- the file it was read from
    seen TEXT NOT NULL,             -- [file, size, mtime] when it was looked at
    digest TEXT NOT NULL,
    status TEXT NOT NULL,           -- current | replaced | refused
    rows INTEGER NOT NULL DEFAULT 0,
    data TEXT,                      -- its SQLite copy (current versions only)
    loaded REAL NOT NULL,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS table_versions_by_name ON table_versions(profile, name, status);
CREATE TABLE IF NOT EXISTS waiting (
    profile TEXT NOT NULL,
    file TEXT NOT NULL,
    reason TEXT NOT NULL,
    since REAL NOT NULL,
    seen REAL NOT NULL,
    PRIMARY KEY (profile, file)
) WITHOUT ROWID;
"""


def _add_columns(table: str, *columns: str) -> Callable[[Backend, Conn], None]:
    def step(backend: Backend, db: Conn) -> None:
        have = backend.columns(table)
        for col in columns:
            if col.split()[0] not in have:
                db.execute(backend.ddl(f"ALTER TABLE {table} ADD COLUMN {col}"))
    return step


def _base(backend: Backend, db: Conn) -> None:
    backend.script(db, BASE)


def _script(ddl: str) -> Callable[[Backend, Conn], None]:
    def step(backend: Backend, db: Conn) -> None:
        backend.script(db, ddl)
    return step


# Photos by the digest of their bytes, published or refused (filebridge/ledger/images.py).
IMAGES = """CREATE TABLE IF NOT EXISTS images (
    profile TEXT NOT NULL,
    digest TEXT NOT NULL,           -- SHA-256 of the photo's bytes, hex
    variant TEXT NOT NULL,          -- the rendition: 'original' or the web size settings
    file TEXT NOT NULL,             -- the name it was last seen under
    status TEXT NOT NULL,           -- published | refused | removing (its file next)
    name TEXT,                      -- published: its name in the public folder
    reason TEXT,                    -- refused: why
    seen REAL NOT NULL,
    PRIMARY KEY (profile, digest, variant)
);
"""

# Who works which profile (filebridge/ledger/leases.py).
LEASES = """CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,      -- what is held: profile:<name>
    owner TEXT NOT NULL,        -- host:pid:token
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    taken REAL NOT NULL,
    expires REAL NOT NULL
);
"""

# What each shop was sent of the ERP's shipments (filebridge/ledger/shipments.py).
SHIPMENTS = """CREATE TABLE IF NOT EXISTS shipment_lines (
    shop TEXT NOT NULL,             -- the shop output's id (sink_id)
    order_id TEXT NOT NULL,         -- the order as the file names it
    shipment TEXT NOT NULL,         -- the ERP's delivery note, else the tracking number
    item TEXT NOT NULL,             -- line:<id> or sku:<sku>, as the file names the line
    qty INTEGER NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,  -- 1: the shop was told it was delivered
    profile TEXT NOT NULL,
    file TEXT NOT NULL,             -- the file that sent it
    shop_ref TEXT,                  -- the shop's id for the shipment (fulfilment)
    sent REAL NOT NULL,
    PRIMARY KEY (shop, order_id, shipment, item)
);
"""

# Whole orders as documents for the ERP (filebridge/ledger/documents.py): each version
# of an order once, by the digest of what the ERP reads; its personal data in a column
# of their own, so they can be dropped once the ERP acknowledged the document.
DOCUMENTS = """CREATE TABLE IF NOT EXISTS order_documents (
    id INTEGER PRIMARY KEY,
    inventory TEXT NOT NULL, source TEXT NOT NULL, order_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,             -- order | change | cancel | refund
    digest TEXT NOT NULL,
    body TEXT NOT NULL,             -- the document without personal data (JSON)
    personal TEXT,                  -- names, addresses, e-mail, phone (JSON); NULL: dropped
    changed REAL NOT NULL, recorded REAL NOT NULL,
    seq INTEGER,                    -- the document file that told the ERP
    exported REAL, acked REAL,
    UNIQUE (inventory, source, order_id, version)
);
CREATE INDEX IF NOT EXISTS order_documents_open ON order_documents(inventory, seq);
CREATE TABLE IF NOT EXISTS document_files (
    inventory TEXT NOT NULL, seq INTEGER NOT NULL, path TEXT NOT NULL,
    status TEXT NOT NULL,            -- pending | published
    documents INTEGER NOT NULL, created REAL NOT NULL, published REAL,
    drop_personal INTEGER NOT NULL DEFAULT 0,  -- forget personal data once acknowledged
    PRIMARY KEY (inventory, seq)
);
"""

# Alerts (filebridge/alerts.py): when each problem was first seen and last told; an
# index for the run report.
ALERTS = """CREATE TABLE IF NOT EXISTS alerts (
    profile TEXT NOT NULL,
    key TEXT NOT NULL,          -- down:shop X, rejected:FILE, overdue, ...
    since REAL,                 -- a lasting problem (a server down): first seen
    sent REAL,                  -- last alert sent for it (the de-duplication window)
    PRIMARY KEY (profile, key)
);
-- The run report (filebridge/ledger/reports.py): a key's previous change, by index.
CREATE INDEX IF NOT EXISTS outbox_by_key ON outbox(profile, sink, key, id);
"""


# "Sync now" asked from the console, done by the watcher (filebridge/ledger/console.py).
SYNC_REQUESTS = """CREATE TABLE IF NOT EXISTS sync_requests (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    asked REAL NOT NULL,
    asked_by TEXT NOT NULL,         -- the console user who asked
    taken REAL,                     -- a watcher started on it
    done REAL,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS sync_requests_open ON sync_requests(profile, done);
"""


# A photo folder's files as last hashed (filebridge/ledger/images.py): a new process
# knows an unchanged file's digest without reading (or downloading) it again.
PHOTO_FILES = """CREATE TABLE IF NOT EXISTS photo_files (
    profile TEXT NOT NULL,
    name TEXT NOT NULL,             -- the file's name in the photo folder
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,         -- as the folder lists it (SFTP: whole seconds)
    digest TEXT NOT NULL,           -- SHA-256 of its bytes, hex
    seen REAL NOT NULL,
    PRIMARY KEY (profile, name)
);
"""


# URL keys a Magento product file gave its products (filebridge/ledger/url_keys.py):
# Magento refuses a key another SKU has, in a later file too. A key counts once the
# file that wrote it is done.
URL_KEYS = """CREATE TABLE IF NOT EXISTS url_keys (
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    url_key TEXT NOT NULL,
    product TEXT NOT NULL,          -- the product key that has it
    file_id INTEGER NOT NULL,       -- the file that wrote it first
    PRIMARY KEY (profile, sink, url_key)
);
"""


# The values PrestaShop combinations files created per attribute group, in the shop's
# order (filebridge/ledger/attribute_values.py): a later file's new value is placed
# among them. A value counts once the file that created it is done.
ATTRIBUTE_VALUES = """CREATE TABLE IF NOT EXISTS attribute_values (
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    field TEXT NOT NULL,            -- the option field (the attribute group)
    value TEXT NOT NULL,
    ord INTEGER NOT NULL,           -- its place in the group, in the shop's order
    position INTEGER NOT NULL,      -- the position it was declared with when created
    file_id INTEGER NOT NULL,       -- the file that created it
    PRIMARY KEY (profile, sink, field, value)
);
"""


# ``mode: changes`` snapshots saved as patches (filebridge/delta_index.py): a run that
# changed few keys stores only those (key, hash, khash) rows, applied in ``seq`` order
# over the full snapshot in ``snapshots``; a full save deletes them.
SNAPSHOT_PATCHES = """CREATE TABLE IF NOT EXISTS snapshot_patches (
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,             -- an Arrow stream, as snapshots.data
    rows INTEGER NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (profile, sink, seq)
);
"""


# What the ledger was made with, by name: the digest's kind (``Ledger.digest_kind``).
SETTINGS = """CREATE TABLE IF NOT EXISTS ledger_settings (
    name TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def _digest_kind(backend: Backend, db: Conn) -> None:
    """The content digest's kind (filebridge/digest.py): a ledger that holds files or
    code tables already keeps the one they were recorded with, so a file it processed
    is still known when it comes again; a new one takes the faster kind."""
    backend.script(db, SETTINGS)
    held = any(db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() is not None
               for t in ("files", "table_versions"))
    db.execute("INSERT INTO ledger_settings(name, value) VALUES ('digest', ?) "
               "ON CONFLICT (name) DO NOTHING", (digest.OLD if held else digest.NEW,))


# Numbered from 1; never edit one that shipped: add the next.
MIGRATIONS: list[tuple[str, Callable[[Backend, Conn], None]]] = [
    ("every table of the first versioned ledger", _base),
    ("outbox.ord: a row's ordinal among those its file sent out", _add_columns(
        "outbox", "ord INTEGER")),
    ("runs.pid, runs.host: a run whose process died is marked interrupted", _add_columns(
        "runs", "pid INTEGER", "host TEXT")),
    ("leases: one process at a time works a profile", _script(LEASES)),
    ("images: photos by the digest of their bytes", _script(IMAGES)),
    ("order_lines.held: units the shop still holds reserved (Magento MSI)", _add_columns(
        "order_lines", "held INTEGER NOT NULL DEFAULT 0")),
    ("shipment_lines: the ERP's shipments each shop was sent", _script(SHIPMENTS)),
    ("order_documents, document_files: orders as documents for the ERP", _script(DOCUMENTS)),
    ("alerts: when a problem began and was last told; outbox by key for run reports",
     _script(ALERTS)),
    ("sync_requests: sync now, asked in the console, done by the watcher",
     _script(SYNC_REQUESTS)),
    ("photo_files: a photo folder's names, sizes and mtimes with their digests",
     _script(PHOTO_FILES)),
    ("images.retired: since when a published photo is no longer in the photo folder",
     _add_columns("images", "retired REAL")),
    ("url_keys: the URL keys Magento product files gave each product", _script(URL_KEYS)),
    ("attribute_values: the values PrestaShop files created per attribute group, in order",
     _script(ATTRIBUTE_VALUES)),
    ("snapshot_patches: the keys a mode: changes run changed, over the last full snapshot",
     _script(SNAPSHOT_PATCHES)),
    ("ledger_settings: the content digest's kind (a ledger holding files keeps blake2b)",
     _digest_kind),
]
VERSION = len(MIGRATIONS)


def version(backend: Backend, db: Conn) -> int:
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(backend: Backend) -> int:
    """Bring the ledger to :data:`VERSION`; the version it had before."""
    import time

    with suppress(LedgerError):  # no schema_version yet: made below
        if version(backend, backend.conn) == VERSION:  # the usual case: no write lock
            return VERSION
    with backend.tx() as db:
        db.execute(backend.ddl("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER "
                               "NOT NULL PRIMARY KEY, applied REAL NOT NULL, what TEXT NOT NULL)"))
        was = version(backend, db)
        if was > VERSION:
            raise LedgerError(f"ledger {backend.where}: schema version {was} is newer than "
                              f"this filebridge knows ({VERSION}): upgrade filebridge")
        for n, (what, step) in enumerate(MIGRATIONS[was:], start=was + 1):
            step(backend, db)
            db.execute("INSERT INTO schema_version(version, applied, what) VALUES (?,?,?)",
                       (n, time.time(), what))
    return was
