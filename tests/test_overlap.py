"""Work on a thread of its own (filebridge/overlap.py): order kept, failures handed back
to the caller where it would have met them, nothing left running once closed."""

import threading
import time

import pytest

from filebridge.overlap import Ahead, Behind


def test_ahead_gives_every_item_in_order():
    assert list(Ahead(iter(range(1000)), depth=3)) == list(range(1000))


def test_ahead_raises_where_the_failing_item_would_have_come():
    def items():
        yield 1
        yield 2
        raise ValueError("line 3: bad")

    got = []
    with pytest.raises(ValueError, match="line 3: bad"):
        for x in Ahead(items()):
            got.append(x)
    assert got == [1, 2]


def test_ahead_closed_early_stops_its_thread_and_closes_the_items():
    closed = threading.Event()

    def items():
        try:
            yield from range(10**9)
        finally:
            closed.set()

    ahead = Ahead(items(), depth=2, name="ahead-test")
    it = iter(ahead)
    assert [next(it), next(it)] == [0, 1]
    ahead.close()  # the thread waits on a full queue: it is let go, not left hanging
    assert closed.is_set()
    assert not any(t.name == "ahead-test" for t in threading.enumerate())


def test_behind_does_the_work_in_order_and_join_waits_for_it():
    done = []

    def work(x):
        time.sleep(0.001)
        done.append(x)

    behind = Behind(work, depth=2)
    for i in range(50):
        behind.put(i)
    behind.join()
    assert done == list(range(50))


def test_behind_hands_a_failure_to_the_next_put_and_to_join():
    done = []

    def work(x):
        if x == 3:
            raise OSError("disk full")
        done.append(x)

    behind = Behind(work)
    with pytest.raises(OSError, match="disk full"):
        for i in range(100):
            behind.put(i)
            time.sleep(0.002)
    with pytest.raises(OSError, match="disk full"):
        behind.join()
    assert done == [0, 1, 2]  # nothing after the failure is done


def test_behind_closed_drops_what_waits_and_stops_its_thread():
    started, release = threading.Event(), threading.Event()
    done = []

    def work(x):
        started.set()
        release.wait(5)
        done.append(x)

    behind = Behind(work, depth=3, name="behind-test")
    for i in range(4):
        behind.put(i)
    started.wait(5)
    threading.Timer(0.1, release.set).start()  # the work ends after close began
    behind.close()
    assert done == [0]
    assert not any(t.name == "behind-test" for t in threading.enumerate())
    idle = Behind(done.append, name="behind-idle")
    idle.close()  # a thread waiting for work is woken to stop
    assert not any(t.name == "behind-idle" for t in threading.enumerate())
