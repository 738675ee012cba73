"""Work done on a thread of its own, overlapping the pipeline's: Arrow and numpy let go
of the GIL while they work, so on a second core the CSV parse of the next block
(:class:`Ahead`) and the text of the last batch (:class:`Behind`) are made while the
pipeline maps this one. Both hold a bounded number of items, so memory stays bounded;
both hand a failure back to the caller, and both stop their thread when closed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_END = object()


class _Worker:
    """A thread and the bounded queue it fills or drains."""

    def __init__(self, target: Callable[[], None], depth: int, name: str):
        self._q: queue.Queue[Any] = queue.Queue(depth)
        self._stop = threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=target, name=name, daemon=True)

    def close(self) -> None:
        """Stops the thread, dropping what is queued; a no-op once it is done."""
        self._stop.set()
        while self._thread.is_alive():
            try:  # a thread waiting to put is let go
                self._q.get_nowait()
            except queue.Empty:
                try:  # a thread waiting to get is woken
                    self._q.put_nowait(_END)
                except queue.Full:
                    pass
            self._thread.join(0.01)


class Ahead(_Worker, Generic[T]):
    """The items of ``items``, made on a thread up to ``depth`` ahead of the caller.
    An exception raised making one is raised where the caller takes it."""

    def __init__(self, items: Iterator[T], depth: int = 1, name: str = "ahead"):
        super().__init__(lambda: self._run(items), depth, name)
        self._thread.start()

    def _run(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                self._q.put(item)
                if self._stop.is_set():
                    return
            self._q.put(_END)
        except BaseException as e:  # the caller's to handle, not this thread's
            self._failed = e
            self._q.put(_END)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._q.get()
            if item is _END:
                if self._failed is not None:
                    raise self._failed
                return
            yield item


class Behind(_Worker):
    """``work(item)`` for each item put, in order, on a thread; the caller goes on at
    once unless ``depth`` items wait. A failure is raised by the next :meth:`put` or
    by :meth:`join`; the items after it are dropped."""

    def __init__(self, work: Callable[[Any], None], depth: int = 1, name: str = "behind"):
        super().__init__(lambda: self._run(work), depth, name)
        self._thread.start()

    def _run(self, work: Callable[[Any], None]) -> None:
        while True:
            item = self._q.get()
            if item is _END or self._stop.is_set():
                return
            if self._failed is None:
                try:
                    work(item)
                except BaseException as e:  # the caller's to handle, not this thread's
                    self._failed = e

    def _raise(self) -> None:
        if self._failed is not None:
            raise self._failed

    def put(self, item: Any) -> None:
        self._raise()
        self._q.put(item)

    def join(self) -> None:
        """Waits for the work put so far; raises its failure, if one."""
        if self._thread.is_alive():
            self._q.put(_END)
            self._thread.join()
        self._raise()
