"""The command line: run, watch, serve, check, preview, plan, approve, feedback, reconcile,
rekey, status, layout, trust, demo, schema."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from filebridge import exitcodes
from filebridge.errors import (
    Bug,
    DiskFull,
    LedgerError,
    ProfileError,
    SinkError,
    TransferError,
)
from filebridge.startup import building, one_blas_thread, use_jemalloc


class _Runner:
    """``runner.X``: the exit codes at once, the run functions (and the pipeline
    behind them) only when a command needs them, so ``--help`` starts fast."""

    def __getattr__(self, name: str) -> Any:
        if hasattr(exitcodes, name):
            return getattr(exitcodes, name)
        from filebridge import runner as real

        return getattr(real, name)


runner = _Runner()


def load_profile(path: Any, *, preview: bool = False) -> Any:
    from filebridge.profile import load_profile as load

    return load(path, preview=preview)

log = logging.getLogger("filebridge")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)


def _fail(code: int, message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
@click.version_option(package_name="filebridge")
def main(verbose: bool) -> None:
    """filebridge: ERP exports in, shop import files and ERP feedback out.

    Exit codes: 0 ok, 1 some rows rejected, 2 usage error, 3 some file rejected,
    4 profile (configuration) error, 5 ledger error, 6 a server could not be used
    (files or shop changes left to retry), 7 a run was held by the circuit breaker
    (filebridge approve RUN), 8 a file waits for a code table or a member of its set
    (see status) or another process works the profile, 9 a local disk is full (the
    file stays, redone when there is room).
    feedback and reconcile exit 1 when movements are not
    acknowledged in time, stock drifts, or (reconcile) some SKU is oversold.
    """
    _setup_logging(verbose)
    use_jemalloc()  # both before a command imports pyarrow (and numpy)
    one_blas_thread()


@contextmanager
def _holding(job: Any) -> Iterator[None]:
    """The profile's lease, for a command that changes its state: a watcher's pass is
    waited for (filebridge/ledger/leases.py)."""
    from filebridge.ledger.leases import Busy

    try:
        with job.lease.hold(wait=runner.LEASE_WAIT):
            yield
    except Busy as e:
        _fail(runner.WAITING, str(e))


def _job(profile_path: str, *, preview: bool = False,
         readonly: bool = False):
    """The profile's job. ``readonly``: a command that records nothing makes no ledger
    where there is none (an empty one in a temporary folder: no history, as is true)."""
    try:
        with building():
            from filebridge.job import Job

            prof = load_profile(profile_path, preview=preview)
            if readonly and not prof.ledger_path().exists():
                import tempfile

                from filebridge.ledger import SqliteLedger

                scratch = tempfile.TemporaryDirectory(prefix="filebridge-")  # removed at exit
                _SCRATCH.append(scratch)
                return Job(prof, SqliteLedger(Path(scratch.name) / "filebridge.db"))
            return Job(prof)
    except ProfileError as e:
        _fail(runner.CONFIG_ERROR, str(e))
    except LedgerError as e:
        _fail(runner.LEDGER_ERROR, str(e))


_SCRATCH: list[Any] = []  # temporary ledgers of readonly commands, kept until exit


@main.command()
@click.argument("profile")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="process even content already processed")
def run(profile: str, files: tuple[Path, ...], force: bool) -> None:
    """Process FILES now, or every complete file waiting in the profile's inbox."""
    from filebridge import digest

    digest.ahead(files)  # on a thread while the job is built
    job = _job(profile)
    from filebridge.ledger.leases import Busy  # imported by the build, collector paused

    try:
        outcomes = runner.run_files(job, [f.resolve() for f in files], force=force)
    except Busy as e:
        _fail(runner.WAITING, str(e))
    except LedgerError as e:
        _fail(runner.LEDGER_ERROR, str(e))
    except DiskFull as e:
        _fail(runner.DISK_FULL, f"{job.name}: the disk is full: {e}; files stay in the inbox "
              "and are redone when there is room")
    except (TransferError, SinkError) as e:
        from filebridge import alerts

        alerts.trouble(job, "source" if isinstance(e, TransferError) else "output", e)
        _fail(runner.TRANSFER_FAILED, f"{job.name}: {e}")
    for o in outcomes:
        counts = ", ".join(f"{k} {v}" for k, v in o.tally.as_dict().items())
        click.echo(f"{o.file}: {o.status}" + (f" ({counts})" if o.status not in (
            "duplicate", "failed", "waiting", "disk_full", "refused") else "")
                   + (f" - {o.reason}" if o.reason else ""))
        for p in o.outputs:
            note = o.notes.get(Path(os.path.normpath(p)))
            click.echo(f"  -> {p}" + (f": {note}" if note else ""))
        if force and o.status == "done" and o.tally.unchanged and not o.tally.sent and \
                any(getattr(s.o, "mode", "full") == "changes" for s in job.sinks):
            click.echo("  (mode: changes: nothing changed since the last delivery, so no "
                       "output was written; the earlier one stays as it was)")
    if not outcomes:
        click.echo(f"{job.name}: {runner.idle_reason(job)}")
    sys.exit(runner.exit_code(outcomes))


@main.command()
@click.argument("profiles", nargs=-1)
@click.option("--once", is_flag=True, help="process what is ready, then exit")
def watch(profiles: tuple[str, ...], once: bool) -> None:
    """Watch each profile's inbox and process files as they complete (default:
    every profiles/*.yaml)."""
    from filebridge.watch import Watcher

    paths = list(profiles) or sorted(str(p) for p in Path("profiles").glob("*.yaml"))
    if not paths:
        _fail(runner.USAGE, "no profiles given and none in ./profiles")
    jobs = [_job(p) for p in paths]
    from filebridge.inboxes import shared_inboxes

    shared = shared_inboxes([j.profile for j in jobs])
    if shared:
        _fail(runner.CONFIG_ERROR, "\n".join(shared))
    sys.exit(Watcher(jobs).serve(once=once))


@main.command()
@click.argument("profiles", nargs=-1, required=True)
def check(profiles: tuple[str, ...]) -> None:
    """Validate profiles; report every problem with file, line and field."""
    bad = 0
    loaded = []
    for p in profiles:
        try:
            prof = load_profile(p)
            loaded.append(prof)
            from filebridge.mapping import Mapper
            Mapper(prof.map)  # lookup tables load
        except ProfileError as e:
            bad += 1
            click.echo(str(e), err=True)
            continue
        stock = getattr(prof, "stock", None)
        why = "" if prof.once else f", the default for stock.role {stock.role}" if stock \
            else ", the default"
        click.echo(f"{p}: ok ({prof.name}; once: {prof.once_rule}{why})")
        from filebridge.catalog.coverage import notes
        from filebridge.feedback import where_notes
        from filebridge.registry import REGISTRY
        from filebridge.stock.share import share_notes

        for note in [*where_notes(prof), *share_notes(prof), *notes(prof, REGISTRY)]:
            click.echo(f"{p}: note: {note}")
    from filebridge.inboxes import shared_inboxes

    for problem in shared_inboxes(loaded):
        bad += 1
        click.echo(problem, err=True)
    sys.exit(runner.CONFIG_ERROR if bad else runner.OK)


@main.command()
@click.argument("profile")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("-n", "--rows", default=10, show_default=True, help="records to show")
def preview(profile: str, file: Path, rows: int) -> None:
    """Show the first mapped records of FILE and its rejects; writes nothing."""
    from filebridge.preview import preview as look

    job = _job(profile, preview=True, readonly=True)
    p = look(job, file, rows)
    if p.rejected is not None:
        _fail(runner.FILES_REJECTED, f"{file.name}: the file would be rejected: {p.rejected}")
    if p.waits is not None:
        _fail(runner.WAITING, f"{file.name}: the file would wait: {p.waits}")
    for line, rec in p.records:
        click.echo(f"line {line}: " + p.record_json(rec))
    for rej in [r for r in p.rejects if r.level == "reject"]:
        click.echo(f"reject line {rej.line}: {rej.field or '-'}: {rej.reason}")
    sys.exit(runner.ROWS_REJECTED if p.tally.rejected else runner.OK)


@main.command()
@click.argument("profile")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("-n", "--examples", default=5, show_default=True, help="keys shown per kind")
def plan(profile: str, file: Path, examples: int) -> None:
    """What FILE would create, update, zero or delete in each shop (and write to each
    file output), with counts and example keys; sends and records nothing."""
    from filebridge.errors import RejectedFile, Waiting
    from filebridge.sync.plan import plan as make_plan

    job = _job(profile, readonly=True)
    try:
        if job.related is not None:
            job.related.refresh()  # code tables, as a run would load them
        p = make_plan(job, file)
    except RejectedFile as e:
        _fail(runner.FILES_REJECTED, f"{file.name}: the file would be rejected: {e}")
    except Waiting as e:
        _fail(runner.WAITING, f"{file.name}: the file would wait: {e}")
    except ValueError as e:
        _fail(runner.CONFIG_ERROR, f"{file.name}: {e}")
    report = p.report
    if report is None:
        raise Bug("expected report is not None")
    t = report.tally
    click.echo(f"{file.name}: {t.read} rows read, {t.rejected} rejected, {t.skipped} skipped")
    for shop in p.shops:
        counts = ", ".join(f"{k} {v}" for k, v in shop.counts.items() if v or k in
                           ("create", "update", "unchanged"))
        click.echo(f"{shop.sink}: {counts}")
        for kind, keys in shop.examples.items():
            if keys:
                click.echo(f"  {kind}: {', '.join(keys[:examples])}"
                           + (" ..." if shop.counts[kind] > len(keys[:examples]) else ""))
        if shop.hold:
            click.echo(f"  HELD by the circuit breaker: {shop.hold}")
        if shop.sink in p.queued:
            click.echo("  already waiting from earlier runs: " + ", ".join(
                f"{k} {v}" for k, v in p.queued[shop.sink].items()))
    for sid, output in p.files.items():
        click.echo(f"{sid}: {output.describe()}")
    for rej in report.first[:10]:
        click.echo(f"reject line {rej.line}: {rej.field or '-'}: {rej.reason}")
    report.close()
    held = any(s.hold for s in p.shops)
    sys.exit(runner.HELD if held else runner.ROWS_REJECTED if t.rejected else runner.OK)


@main.command()
@click.argument("profiles", nargs=-1)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to listen on (localhost: put a TLS proxy in front for the shops)")
@click.option("--port", default=8470, show_default=True, type=int)
@click.option("--users", type=click.Path(dir_okay=False, path_type=Path),
              envvar="FILEBRIDGE_CONSOLE_USERS", help="the console's users file (lines made "
              "by filebridge console-user; default $FILEBRIDGE_CONSOLE_USERS); without it "
              "there is no console, only the webhooks")
def serve(profiles: tuple[str, ...], host: str, port: int, users: Path | None) -> None:
    """Take the shops' order webhooks: POST /hooks/PROFILE/SINK for every shop API
    sink with a webhook_secret in a stock profile (default: every profiles/*.yaml).
    A sale is recorded as a pull records it and its availability pushed at once.
    With --users, the operator console too, at / (log in; $FILEBRIDGE_CONSOLE_SECRET
    signs its session cookie, else a new key per start)."""
    from filebridge.serve import serve as run_server

    paths = list(profiles) or sorted(str(p) for p in Path("profiles").glob("*.yaml"))
    if not paths:
        _fail(runner.USAGE, "no profiles given and none in ./profiles")
    jobs = [_job(p) for p in paths]
    console = None
    if users is not None:
        from filebridge.console.app import console_app
        from filebridge.console.users import Users

        try:
            console = console_app(jobs, Users.load(users),
                                  os.environ.get("FILEBRIDGE_CONSOLE_SECRET"))
        except ProfileError as e:
            _fail(runner.CONFIG_ERROR, str(e))
    run_server(jobs, host, port, console)


@main.command("console-user")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator"]), default="viewer",
              show_default=True)
@click.password_option(help="asked for when not given ($FILEBRIDGE_CONSOLE_PASSWORD)",
                       envvar="FILEBRIDGE_CONSOLE_PASSWORD")
def console_user(name: str, role: str, password: str) -> None:
    """Print a line for the console's users file: NAME, its role and an Argon2 hash of
    the password (the password itself is kept nowhere)."""
    from filebridge.console.users import line

    try:
        click.echo(line(name, role, password))
    except ValueError as e:
        _fail(runner.USAGE, str(e))


@main.command()
@click.argument("profile")
@click.option("--no-pull", is_flag=True, help="do not pull the shops' orders first")
def feedback(profile: str, no_pull: bool) -> None:
    """Pull the shops' new orders and write a movement file for the ERP with what the
    web sold, cancelled and refunded since the last one (and, with stock.documents, a
    file of the orders as documents); report movements the ERP has not acknowledged
    in time."""
    job = _job(profile)
    with _holding(job):
        inv = job.inventory
        spec = getattr(job.profile, "stock", None)
        if inv is None or spec is None or (spec.feedback is None and spec.documents is None):
            _fail(runner.USAGE, f"{profile}: no stock.feedback or stock.documents in this "
                  "profile")
        try:
            if not no_pull:
                click.echo(f"{job.name}: {job.pull_orders()} new movements from the shops")
            for seq, path, n in job.movement_writer().write() if spec.feedback else []:
                click.echo(f"movements file {seq}: {n} movements -> {path}")
            if spec.documents is not None:
                from filebridge.stock.jobs import document_writer

                for seq, path, n in document_writer(job).write():
                    click.echo(f"documents file {seq}: {n} order documents -> {path}")
        except LedgerError as e:
            _fail(runner.LEDGER_ERROR, str(e))
        except (TransferError, SinkError) as e:
            _fail(runner.TRANSFER_FAILED, f"{job.name}: {e}")
        late = inv.overdue() if spec.erp_knows == "acknowledged" else []
        from filebridge import alerts

        alerts.overdue(job, late)
        for m in late:
            click.echo(f"not acknowledged by the ERP: movement {m.id} ({m.kind} {m.sku} "
                       f"{m.qty:+d}, order {m.order}) in file {m.seq}", err=True)
        sys.exit(runner.ROWS_REJECTED if late else runner.OK)


@main.command()
@click.argument("profile")
@click.option("--correct", is_flag=True, help="set the shop to what may be sold where it "
              "differs")
@click.option("--all", "show_all", is_flag=True, help="list every SKU, not only drifting ones")
def reconcile(profile: str, correct: bool, show_all: bool) -> None:
    """Compare ERP stock, the ledger and each shop per SKU and report the drift."""
    from filebridge.stock.reconcile import reconcile as run_reconcile

    job = _job(profile)
    with _holding(job):
        try:
            job.pull_orders()  # and their availability pushed, as after any pull
            reports = run_reconcile(job, correct)
        except ValueError as e:
            _fail(runner.USAGE, str(e))
        except LedgerError as e:
            _fail(runner.LEDGER_ERROR, str(e))
        except (TransferError, SinkError) as e:
            _fail(runner.TRANSFER_FAILED, f"{job.name}: {e}")
        code = runner.OK
        for r in reports:
            if r.error and not r.lines:
                click.echo(f"{r.sink}: {r.error}", err=True)
                code = runner.TRANSFER_FAILED
                continue
            click.echo(f"{r.sink}: {len(r.lines)} SKUs, {len(r.drifting)} drifting"
                       + (f", {r.corrected} corrected" if correct else "")
                       + f", {len(r.oversold)} oversold"
                       + (f" ({sum(x.oversold for x in r.oversold)} units)" if r.oversold else ""))
            click.echo("  sku  erp  available  acknowledged  shop  drift  oversold")
            for x in r.lines if show_all else [x for x in r.lines if x.drift or x.oversold]:
                click.echo(f"  {x.sku}  {x.erp}  {x.available}  {x.acked}  {x.shop}  "
                           f"{'' if x.drift is None else format(x.drift, '+d')}  "
                           f"{x.oversold or ''}".rstrip())
            if r.error:
                click.echo(f"{r.sink}: {r.error}; corrections stay queued", err=True)
                code = runner.TRANSFER_FAILED
            elif r.drifting and not correct:
                code = max(code, runner.ROWS_REJECTED)
        # Sold beyond the stock: no correction of a shop undoes it, so it always counts.
        inv = job.inventory
        over = inv.oversold() if inv is not None else {}
        if inv is not None and over:
            worst = sorted(over.items(), key=lambda kv: (-kv[1], kv[0]))
            named = ", ".join(f"{s} {n}" for s, n in worst[:20])
            click.echo(f"inventory {inv.name}: {len(over)} SKUs oversold, {sum(over.values())} "
                       f"units sold beyond the stock: {named}"
                       + (", ..." if len(worst) > 20 else ""))
            code = max(code, runner.ROWS_REJECTED)
        sys.exit(code)


@main.command()
@click.argument("run_id", metavar="RUN", type=int)
@click.option("--profile", "profile", required=True, help="the profile whose run it is")
def approve(run_id: int, profile: str) -> None:
    """Apply the shop changes of RUN that the circuit breaker held, now."""
    from filebridge.approval import NothingHeld, release

    job = _job(profile)
    with _holding(job):
        try:
            released = release(job, run_id)
        except NothingHeld as e:
            _fail(runner.USAGE, str(e))
        for sid, n in released.items():
            if n:
                click.echo(f"{sid}: {n} changes released")
        try:
            errors = job.drain()
        except LedgerError as e:
            _fail(runner.LEDGER_ERROR, str(e))
        for error in errors:
            click.echo(f"{error}; the changes stay queued for the next run", err=True)
        for s in job.shops.values():
            click.echo(f"{s.id}: "
                       + ", ".join(f"{k} {v}" for k, v in sorted(s.log.counts().items())))
        sys.exit(runner.TRANSFER_FAILED if errors else runner.OK)


@main.command()
@click.argument("profile")
@click.argument("old")
@click.argument("new", required=False)
@click.option("--drop", is_flag=True, help="give up the changes still queued for OLD")
def rekey(profile: str, old: str, new: str | None, drop: bool) -> None:
    """Move what the ledger keeps for shop output OLD (its queued changes, what the shop
    acknowledged, orders pulled from it) to NEW, an id an output of PROFILE goes by; or
    with --drop give up OLD's queued changes. For a shop whose url (or id) changed."""
    from filebridge.ledger.changelog import drop as drop_changes
    from filebridge.ledger.changelog import rekey as move

    job = _job(profile)
    with _holding(job):
        stock = getattr(job.profile, "stock", None)
        state = f"inventory:{stock.inventory}" if stock is not None else job.name
        if drop == (new is not None):
            _fail(runner.USAGE, "give NEW (the id to move to) or --drop, not both")
        try:
            if drop:
                click.echo(f"{old}: {drop_changes(job.ledger, state, old)} queued changes given up")
                sys.exit(runner.OK)
            if new not in job.own_shops:
                have = ", ".join(sorted(job.own_shops)) or "none"
                _fail(runner.USAGE, f"{new}: no shop output of {profile} goes by that id "
                      f"(they are: {have})")
            moved = move(job.ledger, state, old, str(new))
        except LedgerError as e:
            _fail(runner.LEDGER_ERROR, str(e))
        if not moved:
            _fail(runner.USAGE, f"{old}: the ledger keeps nothing under that id for {job.name}")
        click.echo(f"{old}: moved to {new}")


@main.command()
@click.option("--profile", "profile", help="a profile file, for its ledger and name")
@click.option("--ledger", help="the ledger file, or a postgresql:// URL (password from "
              "PGPASSWORD or ~/.pgpass)")
@click.option("-n", "--limit", default=10, show_default=True)
def status(profile: str | None, ledger: str | None, limit: int) -> None:
    """Recent runs and files from the ledger, with their counts."""
    from filebridge.ledger import is_pg_url, open_ledger, open_target

    name = state = None
    try:
        if profile:
            prof = load_profile(profile)
            name = prof.name
            stock = getattr(prof, "stock", None)  # its shops' outbox is the inventory's
            state = f"inventory:{stock.inventory}" if stock is not None else name
            db = open_target(ledger, home=prof.local_home) if ledger else open_ledger(prof)
        elif is_pg_url(ledger):
            db = open_target(str(ledger), home=Path.cwd() / ".filebridge")
        else:
            path = Path(ledger or "profiles/filebridge.db")
            if not path.exists():
                _fail(runner.USAGE, f"no ledger at {path} (give --ledger or --profile)")
            db = open_target(path)
    except ProfileError as e:
        _fail(runner.CONFIG_ERROR, str(e))
    except LedgerError as e:
        _fail(runner.LEDGER_ERROR, str(e))

    def when(t: float | None) -> str:
        return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "-"

    def counts(t: dict[str, int]) -> str:
        return " ".join(f"{k}={v}" for k, v in t.items())

    click.echo("runs:")
    for r in db.recent_runs(limit, name):
        click.echo(f"  #{r['id']} {r['profile']} {when(r['started'])} {r['status']} "
                   f"files={r['files']} {counts(r['tally'])}")
    click.echo("files:")
    for f in db.recent_files(limit * 2, name):
        click.echo(f"  {f['name']} [{f['profile']}] {f['status']} {when(f['finished'])} "
                   f"{counts(f['tally'])}" + (f" - {f['reason']}" if f["reason"] else ""))
    from filebridge.ledger.changelog import held_runs, outbox_counts
    from filebridge.stock.inventory import inventory_counts

    shops = outbox_counts(db, state)
    if shops:
        click.echo("shop outbox:")
        for (prof, sink), c in shops.items():
            click.echo(f"  {sink} [{prof}] {counts(c)}")
    from filebridge.ledger.images import counts as image_counts

    for prof_, c in image_counts(db, name).items():
        click.echo(f"images [{prof_}] " + counts(c))
    from filebridge.ledger.tables import report as tables_report

    related = tables_report(db, name)
    if related["tables"]:
        click.echo("code tables:")
        for t in related["tables"]:
            if t["status"] == "current":
                click.echo(f"  {t['name']} [{t['profile']}] {t['file']} rows={t['rows']} "
                           f"loaded {when(t['loaded'])} digest {t['digest'][:12]}")
            else:
                click.echo(f"  {t['name']} [{t['profile']}] {t['file']} REFUSED "
                           f"{when(t['loaded'])}: {t['reason']}")
    if related["waiting"]:
        click.echo("waiting:")
        for w in related["waiting"]:
            click.echo(f"  {w['file']} [{w['profile']}] since {when(w['since'])}: "
                       f"{w['reason']}")
    for inv, counts_, oversold in inventory_counts(db):
        click.echo(f"inventory {inv}: " + " ".join(f"{k}={v}" for k, v in counts_.items()))
        if oversold:
            worst = sorted(oversold.items(), key=lambda kv: (-kv[1], kv[0]))
            click.echo("  oversold: " + ", ".join(f"{s} {n} units" for s, n in worst[:limit])
                       + (", ..." if len(worst) > limit else ""))
    for run_id, prof, sink, n in held_runs(db, name):
        click.echo(f"  held: run #{run_id} [{prof}] {sink}: {n} changes - "
                   f"filebridge approve {run_id} --profile PROFILE")


@main.command()
@click.argument("profile")
@click.option("--yes", is_flag=True, help="pin without asking (check the fingerprint "
              "some other way first)")
@click.option("--replace", is_flag=True, help="replace a pinned key the server no longer "
              "shows (only once you know why it changed)")
def trust(profile: str, yes: bool, replace: bool) -> None:
    """Show the host key of every SFTP server PROFILE uses and, once confirmed, pin
    it in the profile's known_hosts file."""
    try:
        prof = load_profile(profile)
    except ProfileError as e:
        _fail(runner.CONFIG_ERROR, str(e))
    uses = [("source", prof.source)] if prof.source.kind == "sftp" else []
    uses += [(f"destination {n}", d) for n, d in prof.destinations.items()
             if d.kind == "sftp"]
    if prof.photos is not None and prof.photos.sftp is not None:
        uses.append(("photos", prof.photos.sftp))
    if not uses:
        _fail(runner.USAGE, f"{profile}: no SFTP server in this profile")
    servers: dict[tuple[str, int, Path], tuple[str, Any]] = {}
    for what, s in uses:  # one question per server and known_hosts file
        at = (s.host, s.port, s.known_hosts)
        servers[at] = (f"{servers[at][0]}, {what}", s) if at in servers else (what, s)
    codes = [_trust_one(what, s, yes, replace) for what, s in servers.values()]
    sys.exit(max(codes))


def _trust_one(what: str, s: Any, yes: bool, replace: bool) -> int:
    from filebridge.transport import hostkeys
    from filebridge.transport.sftp import scan_host_key

    name, known = hostkeys.host_id(s.host, s.port), s.known_hosts
    try:
        pinned = hostkeys.pinned(known, s.host, s.port)
        key = scan_host_key(s, prefer=pinned[0].get_name() if pinned else None)
    except TransferError as e:
        click.echo(f"{what}: {e}", err=True)
        return runner.TRANSFER_FAILED
    shown = f"{name} {hostkeys.describe(key)}"
    if any(k == key for k in pinned):
        click.echo(f"{what}: {shown}: already pinned in {known}")
        return runner.OK
    if pinned:
        click.echo(f"{what}: WARNING: {name} now shows {hostkeys.describe(key)} but {known} "
                   f"pins {hostkeys.describe(pinned[0])}. This may be an attack.", err=True)
        if not replace:
            click.echo("  not changed; once the server's administrator confirms the new key, "
                       "run again with --replace", err=True)
            return runner.USAGE
    click.echo(f"{what}: the server presents {shown}")
    if not yes and not click.confirm("Does this fingerprint match the one the server's "
                                     f"administrator gave you? Pin it in {known}"):
        return runner.USAGE
    try:
        hostkeys.pin(known, s.host, s.port, key, replace=bool(pinned))
    except OSError as e:
        click.echo(f"{what}: cannot write {known} ({e.strerror or e})", err=True)
        return runner.USAGE
    click.echo(f"{what}: pinned in {known}")
    return runner.OK


@main.command()
@click.option("--markdown", is_flag=True, help="the profile reference (docs/profiles.md)")
def schema(markdown: bool) -> None:
    """Print the profile JSON Schema (or the Markdown reference)."""
    if markdown:
        from filebridge.docs import reference
        click.echo(reference(), nl=False)
    else:
        from filebridge.profile import json_schema
        click.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


@main.command()
@click.argument("folder", default="demo", type=click.Path(path_type=Path))
def demo(folder: Path) -> None:
    """Copy samples/ and profiles/ into FOLDER and run every sample profile."""
    from filebridge.demo import run_demo

    sys.exit(run_demo(folder))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--underscore", is_flag=True, help="copybook names with _ instead of - "
              "(PREZZO_VENDITA)")
@click.option("--comp", type=click.Choice(["binary", "packed"]), default="binary",
              show_default=True, help="what USAGE COMP is: binary (z/OS) or packed (ILE "
              "COBOL on IBM i)")
def layout(file: Path, underscore: bool, comp: str) -> None:
    """Show the fields a COBOL copybook, FDF or DSPFFD export compiles to, to check
    them against the ERP's documentation."""
    from filebridge.layouts.imported import LayoutError, load_layout

    try:
        compiled = load_layout(file, names="underscore" if underscore else "as_written",
                               comp=comp)  # type: ignore[arg-type]
    except LayoutError as e:
        _fail(runner.CONFIG_ERROR, str(e))
    rows = [("NAME", "START", "END", "LENGTH", "TYPE", "STORAGE", "SCALE")]
    for name, f in compiled.fields.items():
        storage: str = f.storage  # where the sign is matters for zoned; unsigned for all
        if f.storage != "text" and f.sign == "none":
            storage += ", unsigned"
        elif f.storage == "zoned":
            storage += f", sign {f.sign.replace('_', ' ')}"
        if f.point:
            storage += ", printed point"
        kind = f"{f.type} {f.format}" if f.type == "date" else f.type
        scale = (f"{f.scale}" + (" implied" if f.implied else "")) if f.type == "decimal" else ""
        if f.scale < 0:
            scale = f"{f.scale} (x 10^{-f.scale})"
        rows.append((name, str(f.start), str(f.end), str(f.length), kind, storage, scale))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    click.echo(f"{file.name}: {compiled.kind} {compiled.name or ''}".rstrip())
    for r in rows:
        click.echo("  ".join(c.rjust(w) if c.isdigit() else c.ljust(w)
                             for c, w in zip(r, widths, strict=True)).rstrip())
    click.echo(f"record length: {compiled.record_length} "
               f"({len(compiled.fields)} fields)")
