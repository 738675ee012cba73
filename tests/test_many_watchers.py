"""Several processes on one ledger: watchers side by side, a cron ``run`` beside a
``watch``, watchers SIGKILLed at random. Each file is processed by one process,
once; outputs are what one clean process writes (bench/chaos.py checks them
against a clean run); a lease held by a dead process is taken over, one held by a
live process is waited for, and a process that lost its lease commits nothing."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pgserver import PASSWORD_ENV

from filebridge.ledger import open_target
from filebridge.ledger.leases import Busy, Lease, LeaseLost
from filebridge.ledger.sqlite import SqliteLedger

pytestmark = pytest.mark.timeout(600)

_spec = importlib.util.spec_from_file_location(
    "chaos", Path(__file__).parent.parent / "bench" / "chaos.py")
assert _spec is not None and _spec.loader is not None
chaos = importlib.util.module_from_spec(_spec)
sys.modules["chaos"] = chaos  # its dataclasses look their module up
_spec.loader.exec_module(chaos)


def test_two_watchers_on_one_inbox_process_each_file_once(tmp_path):
    # The scenario: one profile, two watchers, 60 files in mode: changes; the
    # last file restates the catalog, so a lost snapshot update would show as output.
    r = chaos.run(tmp_path / "w2", watchers=2, profiles=1, files=60, kills=0, timeout=240)
    assert r.problems == [], "\n".join(r.problems[:20])


def test_three_watchers_on_postgresql_killed_at_random_lose_and_repeat_nothing(
        tmp_path, ledger_url):
    # As watchers on three hosts would share one PostgreSQL (here one host: a dead
    # watcher's lease is taken over by its pid, the expiry covers other hosts).
    assert chaos.PASSWORD_ENV == PASSWORD_ENV
    r = chaos.run(tmp_path / "chaos", watchers=3, profiles=2, files=30, kills=15,
                  ledger=ledger_url, interval=(0.05, 0.4), timeout=300)
    assert r.kills >= 8, r.line()
    assert r.problems == [], "\n".join(r.problems[:20])


def test_watchers_killed_at_random_lose_and_repeat_nothing(tmp_path):
    r = chaos.run(tmp_path / "chaos", watchers=2, profiles=2, files=40, kills=25,
                  interval=(0.05, 0.4), timeout=300)
    assert r.kills >= 10, r.line()  # killed while there was work, not after
    assert r.problems == [], "\n".join(r.problems[:20])


def test_a_cron_run_beside_a_watcher_takes_nothing_twice(tmp_path):
    paths = chaos.workspace(tmp_path, 1, 30, None, seed=3)
    env = dict(os.environ)
    env.pop("FILEBRIDGE_LEDGER", None)
    w = subprocess.Popen([*chaos._exe(), "watch", str(paths[0])], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        runs = [subprocess.run([*chaos._exe(), "run", str(paths[0])], env=env,
                               capture_output=True, text=True, timeout=300)
                for _ in range(3)]
        deadline = time.monotonic() + 120
        while not chaos._done(str(tmp_path / "ledger.db"), tmp_path, 30):
            assert time.monotonic() < deadline, "not done"
            time.sleep(0.2)
    finally:
        w.send_signal(signal.SIGTERM)
        _, err = w.communicate(timeout=60)
    for r in runs:
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Traceback" not in r.stderr
    assert "Traceback" not in err.decode()
    clean = tmp_path.parent / (tmp_path.name + "-clean")
    chaos.clean(clean, 1, 30, 3, env)
    assert chaos.check(tmp_path, clean, str(tmp_path / "ledger.db"), 1, 30) == []


# The lease itself ------------------------------------------------------------------

HOLD = """
import sys, time
from filebridge.ledger.sqlite import SqliteLedger
from filebridge.ledger.leases import Lease
lease = Lease(SqliteLedger(sys.argv[1]), "art", ttl=float(sys.argv[2]))
with lease.hold():
    print("held", flush=True)
    time.sleep(600)
"""


def _holder(db: Path, ttl: float = 60.0) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(db), str(ttl)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def test_two_takers_one_winner(ledger):
    a, b = Lease(ledger, "art"), Lease(ledger.sibling(), "art")
    assert a.try_take() and not b.try_take()
    assert a.try_take()  # its own: renewed
    with pytest.raises(Busy), b.hold(wait=0.6):
        pass


def test_a_live_holder_is_waited_for_then_named(tmp_path):
    db = tmp_path / "ledger.db"
    p = _holder(db)
    try:
        lease = Lease(SqliteLedger(db), "art")
        t = time.monotonic()
        with pytest.raises(Busy) as e, lease.hold(wait=1.0):
            pass
        assert time.monotonic() - t >= 1.0
        assert f":{p.pid}:" in str(e.value) and "art is being worked by" in str(e.value)
    finally:
        p.kill()
        p.wait()


def test_a_lease_whose_process_died_is_taken_over_at_once(tmp_path):
    db = tmp_path / "ledger.db"
    p = _holder(db, ttl=3600)  # its expiry is far away: only its death frees it
    p.send_signal(signal.SIGKILL)
    p.wait()
    lease = Lease(SqliteLedger(db), "art")
    t = time.monotonic()
    with lease.hold(wait=5.0):
        assert lease.took_over
    assert time.monotonic() - t < 2.0


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        return SqliteLedger(tmp_path / "ledger.db")
    url = request.getfixturevalue("ledger_url")
    return open_target(url, os.environ[PASSWORD_ENV], home=tmp_path / "home")


def test_an_expired_lease_of_another_host_is_taken_over(ledger):
    with ledger.tx() as con:  # a watcher on another machine, silent for 2 minutes
        con.execute("INSERT INTO leases VALUES ('profile:art', 'other:42:x', 'other', 42, ?, ?)",
                    (time.time() - 180, time.time() - 120))
    lease = Lease(ledger, "art")
    with lease.hold(wait=0):
        assert lease.took_over
    # A live one on another host (not expired) cannot be judged by its pid: it is waited for.
    with ledger.tx() as con:
        con.execute("INSERT INTO leases VALUES ('profile:art', 'other:42:y', 'other', 42, ?, ?)",
                    (time.time(), time.time() + 60))
    with pytest.raises(Busy), lease.hold(wait=0):
        pass


def test_a_process_that_lost_its_lease_commits_nothing(ledger):
    lease = Lease(ledger, "art", heartbeat=0.05)
    run = ledger.start_run("art")
    with lease.hold():
        row = ledger.claim("art", "d1", "A.csv", 10, run)
        with ledger.tx() as con:  # it stalled; another host took the profile over
            con.execute("UPDATE leases SET owner='other:1:z', host='other' WHERE name=?",
                        ("profile:art",))
        with pytest.raises(LeaseLost):
            ledger.finish(row.id, "art", "done", {"read": 1, "sent": 1})
        deadline = time.monotonic() + 10
        while not lease.lost and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lease.lost  # the heartbeat noticed too
    status = ledger.db.execute("SELECT status FROM files WHERE id=?", (row.id,)).fetchone()
    assert status == ("processing",)  # redone by the new holder, same claim time
    owner = ledger.db.execute("SELECT owner FROM leases").fetchone()
    assert owner == ("other:1:z",)  # giving back a lost lease does not remove the new one


def test_a_scheduled_occurrence_started_elsewhere_is_not_repeated(tmp_path):
    from filebridge.schedule import Schedule, ScheduledJob, Scheduler

    db = tmp_path / "ledger.db"
    ran: list[str] = []
    clock = [1_000_000.0]
    every = Schedule.model_validate({"every": "5m"})

    def sched(who: str) -> Scheduler:
        job = ScheduledJob("orders", every, lambda when: ran.append(who))
        return Scheduler(SqliteLedger(db), "art", [job], clock=lambda: clock[0])

    a, b = sched("a"), sched("b")
    a.run_due()
    clock[0] += 301
    due = b._pending(b.jobs[0], clock[0])  # b sees the occurrence due...
    assert due is not None
    a.run_due()  # ...a starts it first...
    occ = b._start(b.jobs[0], due, clock[0])  # ...so b's start does nothing
    assert occ.status == "skipped" and ran == ["a", "a"]
