"""Scheduled jobs (filebridge/schedule.py) on a hand-moved clock over a real SQLite
ledger: every: and cron: occurrences over simulated days, DST days in Europe/Rome,
overlap skipped, restarts neither repeat nor forget (one catch-up run), failures
recorded without stopping the schedule, and bad specs refused with clear words."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from filebridge.errors import LedgerError
from filebridge.ledger.sqlite import SqliteLedger
from filebridge.schedule import MAX_WAKE, Schedule, ScheduledJob, Scheduler

ROME = ZoneInfo("Europe/Rome")


def rome(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
         *, fold: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=ROME, fold=fold).timestamp()


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="minutes")


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


class Recorder:
    """A job that notes the occurrence each run was for."""

    def __init__(self) -> None:
        self.calls: list[datetime] = []

    def __call__(self, due: datetime) -> None:
        self.calls.append(due)


@pytest.fixture(autouse=True)
def local_time_is_rome(monkeypatch: pytest.MonkeyPatch) -> None:
    """every: and a cron: without timezone use the machine's zone, read from TZ."""
    monkeypatch.setenv("TZ", "Europe/Rome")


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def ledger(ledger_path: Path):
    db = SqliteLedger(ledger_path)
    yield db
    db.close()


def cron(expr: str, zone: str = "Europe/Rome") -> Schedule:
    return Schedule.model_validate({"cron": expr, "timezone": zone})


def every(text: str) -> Schedule:
    return Schedule.model_validate({"every": text})


def simulate(ledger: SqliteLedger, schedule: Schedule, start: float, end: float,
             step: float = 60.0) -> list[str]:
    """Call run_due every ``step`` seconds from start to end; the occurrences run."""
    job = Recorder()
    s = Scheduler(ledger, "p", [ScheduledJob("j", schedule, job)])
    t = start
    while t <= end:
        ran = s.run_due(t)
        assert [o.status for o in ran] in ([], ["done"])
        t += step
    return [iso(d) for d in job.calls]


# occurrences over a day ------------------------------------------------------------

def test_every_runs_at_once_then_on_its_grid_without_drift(ledger):
    start = rome(2025, 6, 2, 0, 0)
    # Checked every 97 s: runs land late by up to 97 s, but the grid does not drift.
    ran = simulate(ledger, every("1h"), start, start + 86400 - 1, step=97)
    assert ran == [f"2025-06-02T{h:02d}:00+02:00" for h in range(24)]
    row = Scheduler(ledger, "p", []).status()[0]
    assert row["runs"] == 24 and row["status"] == "done" and row["anchor"] == start


def test_every_5m_over_a_day(ledger):
    start = rome(2025, 6, 2, 0, 0)
    ran = simulate(ledger, every("5m"), start, start + 86400 - 1, step=60)
    assert len(ran) == 288
    assert ran[:3] == ["2025-06-02T00:00+02:00", "2025-06-02T00:05+02:00",
                       "2025-06-02T00:10+02:00"]
    assert ran[-1] == "2025-06-02T23:55+02:00"


def test_cron_daily_and_office_hours_over_a_day(ledger):
    start, end = rome(2025, 6, 2, 0, 0), rome(2025, 6, 3, 0, 0) - 1  # a Monday
    assert simulate(ledger, cron("30 1 * * *"), start, end) == ["2025-06-02T01:30+02:00"]
    office = simulate(ledger, cron("0 9-17/4 * * 1-5"), start, end)
    assert office == ["2025-06-02T09:00+02:00", "2025-06-02T13:00+02:00",
                      "2025-06-02T17:00+02:00"]


def test_cron_weekdays_only_over_a_week(ledger):
    start = rome(2025, 6, 2, 0, 0)  # Monday
    ran = simulate(ledger, cron("15 6 * * 1-5"), start, start + 7 * 86400, step=300)
    assert ran == [f"2025-06-0{d}T06:15+02:00" for d in range(2, 7)]


def test_cron_in_another_zone_and_the_local_default(ledger, monkeypatch):
    start = rome(2025, 6, 2, 0, 0)
    ny = simulate(ledger, cron("0 1 * * *", "America/New_York"), start, start + 86400)
    assert ny == ["2025-06-02T01:00-04:00"]  # 07:00 in Rome
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    local = Schedule(cron="0 9 * * *")
    assert str(local.zone()) == "Asia/Tokyo"
    nxt = local.next_after(start, start)
    assert nxt is not None
    assert datetime.fromtimestamp(nxt, ZoneInfo("Asia/Tokyo")).hour == 9


# daylight saving time: a 02:30 job in Europe/Rome ---------------------------------

def test_dst_spring_forward_runs_the_skipped_0230_once_at_0300(ledger):
    # 2025-03-30: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that day.
    ran = simulate(ledger, cron("30 2 * * *"), rome(2025, 3, 29, 12, 0),
                   rome(2025, 3, 31, 12, 0))
    assert ran == ["2025-03-30T03:00+02:00", "2025-03-31T02:30+02:00"]


def test_dst_fall_back_runs_the_repeated_0230_once(ledger):
    # 2025-10-26: 03:00 CEST goes back to 02:00 CET, so 02:30 happens twice.
    start, end = rome(2025, 10, 25, 12, 0), rome(2025, 10, 27, 12, 0)
    ran = simulate(ledger, cron("30 2 * * *"), start, end)
    assert ran == ["2025-10-26T02:30+02:00", "2025-10-27T02:30+01:00"]


def test_dst_fall_back_frequent_jobs_follow_the_real_clock(ledger):
    # Jobs running at least hourly are not special-cased (like Debian's cron):
    # the repeated hour has its half hours twice, 30 real minutes apart.
    ran = simulate(ledger, cron("*/30 * * * *"), rome(2025, 10, 26, 1, 45),
                   rome(2025, 10, 26, 3, 15, fold=0))
    assert ran == ["2025-10-26T02:00+02:00", "2025-10-26T02:30+02:00",
                   "2025-10-26T02:00+01:00", "2025-10-26T02:30+01:00",
                   "2025-10-26T03:00+01:00"]


# restarts ------------------------------------------------------------------------

def test_restart_does_not_repeat_an_occurrence(ledger_path):
    job = Recorder()
    spec = [ScheduledJob("nightly", cron("30 1 * * *"), job)]
    first = SqliteLedger(ledger_path)
    s = Scheduler(first, "p", spec)
    assert s.run_due(rome(2025, 6, 2, 0, 0)) == []
    assert [o.status for o in s.run_due(rome(2025, 6, 2, 1, 30))] == ["done"]
    first.close()

    again = SqliteLedger(ledger_path)  # the watcher restarted a minute later
    s2 = Scheduler(again, "p", spec)
    for minute in (31, 45, 59):
        assert s2.due(rome(2025, 6, 2, 1, minute)) == []
        assert s2.run_due(rome(2025, 6, 2, 1, minute)) == []
    assert s2.next_due(rome(2025, 6, 2, 2, 0)) == rome(2025, 6, 3, 1, 30)
    assert [o.status for o in s2.run_due(rome(2025, 6, 3, 1, 30))] == ["done"]
    assert [iso(d) for d in job.calls] == ["2025-06-02T01:30+02:00", "2025-06-03T01:30+02:00"]
    again.close()


def test_down_at_0130_runs_once_when_started_at_0300(ledger_path):
    job = Recorder()
    spec = [ScheduledJob("nightly", cron("30 1 * * *"), job)]
    first = SqliteLedger(ledger_path)
    Scheduler(first, "p", spec).run_due(rome(2025, 6, 2, 1, 0))  # seen at 01:00, then down
    first.close()

    db = SqliteLedger(ledger_path)
    s = Scheduler(db, "p", spec)
    now = rome(2025, 6, 2, 3, 0)
    assert [j.name for j in s.due(now)] == ["nightly"]
    assert s.next_wake(now) == 0
    ran = s.run_due(now)
    assert [(o.status, iso(o.due)) for o in ran] == [("done", "2025-06-02T01:30+02:00")]
    assert s.run_due(now + 60) == [] and s.run_due(now + 3600) == []
    assert len(job.calls) == 1
    db.close()


def test_many_missed_occurrences_collapse_into_one_run(ledger, caplog):
    caplog.set_level(logging.INFO, "filebridge")
    daily, often = Recorder(), Recorder()
    s = Scheduler(ledger, "p", [ScheduledJob("daily", cron("30 1 * * *"), daily),
                                ScheduledJob("often", every("10m"), often)])
    s.run_due(rome(2025, 6, 2, 1, 30))  # both run; then three days of silence
    assert len(daily.calls) == 1 and len(often.calls) == 1
    now = rome(2025, 6, 5, 3, 7)
    ran = s.run_due(now)
    assert sorted((o.job, iso(o.due)) for o in ran) == [
        ("daily", "2025-06-05T01:30+02:00"),   # the latest missed one, once
        ("often", "2025-06-05T03:00+02:00")]   # grid from the first run at 01:30
    assert "catching up on the run due at 2025-06-05T01:30:00+02:00" in caplog.text
    assert s.run_due(now + 1) == []
    assert s.next_due(now + 1) == rome(2025, 6, 5, 3, 10)
    assert len(daily.calls) == 2 and len(often.calls) == 2


def test_a_job_first_seen_after_its_time_does_not_catch_up(ledger):
    job = Recorder()
    s = Scheduler(ledger, "p", [ScheduledJob("nightly", cron("30 1 * * *"), job)])
    assert s.run_due(rome(2025, 6, 2, 2, 0)) == []
    assert s.next_due(rome(2025, 6, 2, 2, 0)) == rome(2025, 6, 3, 1, 30)
    assert job.calls == []


def test_an_occurrence_just_before_the_first_sighting_is_not_due(ledger):
    s = Scheduler(ledger, "p", [ScheduledJob("nightly", cron("30 1 * * *"), Recorder())])
    now = rome(2025, 6, 2, 1, 30) + 0.5
    assert s.due(now) == []
    assert s.next_due(now) == rome(2025, 6, 3, 1, 30)  # not 01:30 today: no busy loop
    assert s.next_wake(now) == MAX_WAKE


class Killed(BaseException):
    """The process dies in the middle of a run."""


def test_a_run_cut_short_by_a_crash_is_marked_and_not_redone(ledger_path, caplog):
    def dies(due: datetime) -> None:
        raise Killed()

    first = SqliteLedger(ledger_path)
    with pytest.raises(Killed):
        Scheduler(first, "p", [ScheduledJob("nightly", cron("30 1 * * *"), dies)]).run_due(
            rome(2025, 6, 2, 1, 30))
    first.close()

    job = Recorder()
    db = SqliteLedger(ledger_path)
    s = Scheduler(db, "p", [ScheduledJob("nightly", cron("30 1 * * *"), job)])
    assert "nightly: its last run did not finish" in caplog.text
    assert s.status()[0]["status"] == "interrupted"
    assert s.run_due(rome(2025, 6, 2, 1, 40)) == []
    assert s.run_due(rome(2025, 6, 3, 1, 30))[0].status == "done"
    db.close()


# overlap -------------------------------------------------------------------------

class Blocking:
    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        self.calls = 0

    def __call__(self, due: datetime) -> None:
        self.calls += 1
        self.started.set()
        assert self.release.wait(10), "never released"


def test_overlap_is_skipped_while_the_previous_run_goes_on(ledger, caplog):
    job = Blocking()
    clock = Clock(rome(2025, 6, 2, 8, 0))
    s = Scheduler(ledger, "p", [ScheduledJob("slow", every("1m"), job)], clock=clock)
    results: list = []
    worker = threading.Thread(target=lambda: results.extend(s.run_due()))
    worker.start()
    assert job.started.wait(5)

    clock.t += 60  # the next occurrence, while the first run is still going
    skipped = s.run_due()
    assert [(o.status, iso(o.due)) for o in skipped] == [("skipped", "2025-06-02T08:01+02:00")]
    assert "the run due at 2025-06-02T08:01:00+02:00 is skipped" in caplog.text
    # A second scheduler over the same ledger in this process does not start it either.
    other = Scheduler(ledger, "p", [ScheduledJob("slow", every("1m"), job)], clock=clock)
    assert other.status()[0]["status"] == "running"  # not taken for interrupted
    clock.t += 60
    assert [o.status for o in other.run_due()] == ["skipped"]
    assert job.calls == 1
    row = s.status()[0]
    assert row["status"] == "running" and row["skips"] == 2

    clock.t += 5
    job.release.set()
    worker.join(5)
    assert [o.status for o in results] == ["done"]
    assert s.run_due() == []  # the skipped occurrences are not made up for
    clock.t = rome(2025, 6, 2, 8, 3)
    assert [o.status for o in s.run_due()] == ["done"]
    row = s.status()[0]
    assert (row["status"], row["runs"], row["skips"]) == ("done", 2, 2)


def test_background_runs_return_at_once_and_skip_overlaps(ledger):
    job = Blocking()
    clock = Clock(rome(2025, 6, 2, 8, 0))
    s = Scheduler(ledger, "p", [ScheduledJob("slow", every("1m"), job)], clock=clock,
                  background=True)
    assert [o.status for o in s.run_due()] == ["started"]
    assert job.started.wait(5)
    clock.t += 60
    assert [o.status for o in s.run_due()] == ["skipped"]
    clock.t += 30
    job.release.set()
    s.join(5)
    row = s.status()[0]
    assert row["status"] == "done" and row["finished"] == clock.t and job.calls == 1


# failures ------------------------------------------------------------------------

def test_a_failing_job_is_recorded_and_the_next_occurrence_runs(ledger, caplog):
    calls: list[datetime] = []

    def flaky(due: datetime) -> None:
        calls.append(due)
        if len(calls) == 1:
            raise ValueError("shop said no")

    clock = Clock(rome(2025, 6, 2, 1, 30))
    other = Recorder()
    s = Scheduler(ledger, "p", [ScheduledJob("flaky", cron("30 * * * *"), flaky),
                                ScheduledJob("other", cron("30 * * * *"), other)],
                  clock=clock)
    ran = s.run_due()
    assert [(o.job, o.status, o.error) for o in ran] == [
        ("flaky", "failed", "ValueError: shop said no"), ("other", "done", None)]
    assert "flaky: the run due at 2025-06-02T01:30:00+02:00 failed" in caplog.text
    assert "Traceback" in caplog.text and "shop said no" in caplog.text
    row = s.status()[0]
    assert (row["job"], row["status"], row["error"], row["failures"]) == (
        "flaky", "failed", "ValueError: shop said no", 1)

    clock.t = rome(2025, 6, 2, 2, 30)
    assert [o.status for o in s.run_due()] == ["done", "done"]
    row = s.status()[0]
    assert (row["status"], row["error"], row["failures"], row["runs"]) == ("done", None, 1, 2)
    assert len(calls) == 2 and len(other.calls) == 2


def test_a_ledger_error_in_a_job_is_not_swallowed(ledger):
    def broken(due: datetime) -> None:
        raise LedgerError("disk full")

    s = Scheduler(ledger, "p", [ScheduledJob("j", every("1m"), broken)])
    with pytest.raises(LedgerError, match="disk full"):
        s.run_due(rome(2025, 6, 2, 0, 0))
    # the occurrence is taken (at most once), the next one runs again
    with pytest.raises(LedgerError):
        s.run_due(rome(2025, 6, 2, 0, 1))


# waking up -----------------------------------------------------------------------

def test_next_wake(ledger):
    s = Scheduler(ledger, "p", [ScheduledJob("nightly", cron("30 1 * * *"), Recorder())])
    assert s.next_due(rome(2025, 6, 2, 1, 0)) == rome(2025, 6, 2, 1, 30)
    assert s.next_wake(rome(2025, 6, 2, 1, 0)) == MAX_WAKE
    assert s.next_wake(rome(2025, 6, 2, 1, 29) + 30) == 30
    assert s.next_wake(rome(2025, 6, 2, 1, 30)) == 0
    s.run_due(rome(2025, 6, 2, 1, 30))
    assert s.next_due(rome(2025, 6, 2, 1, 30)) == rome(2025, 6, 3, 1, 30)
    assert s.next_wake(rome(2025, 6, 3, 1, 29) + 59.5) == 0.5
    assert Scheduler(ledger, "q", []).next_wake(0) == MAX_WAKE


# specs -----------------------------------------------------------------------------

@pytest.mark.parametrize("spec, message", [
    ({"cron": "61 * * * *"}, "bad cron expression '61 * * * *': bad minute field"),
    ({"cron": "0 25 * * *"}, "bad cron expression '0 25 * * *': bad hour field"),
    ({"cron": "0 0 30 2 *"}, "'0 0 30 2 *'"),
    ({"cron": "* * * *"}, "cron expression '* * * *' has 4 field(s); write 5"),
    ({"cron": "0 0 * * * *"}, "has 6 field(s)"),
    ({"cron": "@daily"}, "'@daily' has 1 field(s)"),
    ({"every": "5 minutes"}, "not a duration: '5 minutes'"),
    ({"every": "0s"}, "every: 0s is too often"),
    ({}, "exactly one of every: (e.g. 5m) or cron:"),
    ({"every": "5m", "cron": "* * * * *"}, "exactly one of every:"),
    ({"every": "5m", "timezone": "Europe/Rome"}, "timezone: applies to cron: only"),
    ({"cron": "30 1 * * *", "timezone": "Europe/Roma"}, "unknown timezone 'Europe/Roma'"),
    ({"cron": "30 1 * * *", "at": "01:30"}, "Extra inputs are not permitted"),
])
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ValidationError) as e:
        Schedule.model_validate(spec)
    assert message in str(e.value)


def test_good_specs_and_their_schema():
    assert Schedule.model_validate({"every": "5m"}).every == 300
    assert Schedule.model_validate({"cron": " 30  1 * * * "}).cron == "30 1 * * *"
    assert cron("30 1 * * *").describe() == "cron '30 1 * * *' (Europe/Rome)"
    props = Schedule.model_json_schema()["properties"]
    assert set(props) == {"every", "cron", "timezone"}
    assert all(p.get("description") for p in props.values())


def test_duplicate_job_names_are_refused(ledger):
    j = ScheduledJob("x", every("1m"), Recorder())
    with pytest.raises(ValueError, match="job name 'x' is used twice"):
        Scheduler(ledger, "p", [j, j])


def test_profiles_keep_separate_state(ledger):
    a, b = Recorder(), Recorder()
    sa = Scheduler(ledger, "a", [ScheduledJob("j", cron("0 * * * *"), a)])
    sb = Scheduler(ledger, "b", [ScheduledJob("j", cron("0 * * * *"), b)])
    sa.run_due(rome(2025, 6, 2, 0, 59))
    sb.run_due(rome(2025, 6, 2, 0, 59))
    t = rome(2025, 6, 2, 1, 0)
    assert [o.status for o in sa.run_due(t)] == ["done"]
    assert [o.status for o in sb.run_due(t)] == ["done"]
    assert len(a.calls) == len(b.calls) == 1
    assert sa.due(t + timedelta(minutes=5).total_seconds()) == []
