"""Group commit: one thread owns the write connection and commits operations in batches.

Each operation runs inside its own SAVEPOINT within the batch's transaction, so a rejected
operation is rolled back alone and changes nothing; the batch is then committed once and only
after COMMIT returns is any caller answered. While one batch is being made durable (fsync), new
operations queue up and form the next batch, so durable throughput is not capped at one fsync per
operation. When fewer operations are queued than the last batch carried, the writer waits a
bounded time (``max_wait_s``) for that many: concurrent callers answered by one commit are about to
submit again, and threads woken one by one would otherwise split into batches half the size. A
lone caller (a last batch of one) never waits, so it waits no longer than its own commit.

The queue is bounded (``max_queue``): past it an operation is refused at once with ``overloaded``
(nothing was changed; retry later with the same key) rather than waiting behind a backlog it
would time out in anyway, with memory growing meanwhile.

If COMMIT itself fails, every operation of the batch gets the error and none is acknowledged;
retrying with the same idempotency keys is safe (the operations either all landed or none did).
"""

from __future__ import annotations

import _thread
import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, Union, cast

from kimia.errors import KimiaError, reject
from kimia.service.sql import Tx

log = logging.getLogger(__name__)

Work = Callable[[Tx], Any]


class Guard(Protocol):
    """A request's deadline as the writer sees it (``kimia.service.requests.Deadline``)."""

    def check(self) -> None: ...

    def seal(self) -> None: ...


class Batchable(Protocol):
    """A work the writer may run together with the works of its ``batch_kind`` queued next to it
    (``run_batch``: one result, or the exception, per work); called alone it runs by itself."""

    batch_kind: str
    guard: Guard | None

    def __call__(self, tx: Tx) -> Any: ...

    def run_batch(self, tx: Tx, works: list[Any]) -> list[Any]: ...

#: Most operations one commit may carry (a limit on everything).
MAX_BATCH = 256
#: Operations waiting for the writer before new ones are refused (``overloaded``): at a few
#: thousand commits a second, several seconds of work.
DEFAULT_MAX_QUEUE = 10_000
#: How long a caller waits for its answer before giving up (the operation may still land; retry with the same key).
DEFAULT_TIMEOUT_S = 30.0


#: How often an operation that raced another writer (PostgreSQL, several processes) is run again.
RACE_RETRIES = 3


def is_race(exc: BaseException) -> bool:
    """A unique-key collision or a deadlock with another writer: safe to run the operation again."""
    name = type(exc).__name__
    if name in ("UniqueViolation", "DeadlockDetected", "SerializationFailure"):
        return True
    return name == "IntegrityError" and "UNIQUE" in str(exc).upper()


class WriterClosed(RuntimeError):
    pass


class _ThreadWaiter:
    """A caller thread waiting for its operation: one lock, released once the outcome is known.
    (Leaner than a concurrent.futures.Future: under load every wake-up across cores counts.)"""

    __slots__ = ("_lock", "_done", "_result", "_error")

    def __init__(self) -> None:
        self._lock = _thread.allocate_lock()
        self._lock.acquire()
        self._done = False
        self._result: Any = None
        self._error: BaseException | None = None

    def done(self) -> bool:
        return self._done

    def set_result(self, result: Any) -> None:
        self._result, self._done = result, True
        self._lock.release()

    def set_exception(self, error: BaseException) -> None:
        self._error, self._done = error, True
        self._lock.release()

    def wait(self, timeout_s: float) -> Any:
        if not self._lock.acquire(timeout=timeout_s):
            raise TimeoutError("the operation was not answered in time (it may still land; retry with the same key)")
        if self._error is not None:
            raise self._error
        return self._result


class _LoopWaiter:
    """An asyncio task waiting for its operation. The writer keeps the outcome and hands all the
    outcomes of a batch to each event loop in one call, so a loop is woken once per batch."""

    __slots__ = ("loop", "future", "_outcome")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()
        self._outcome: tuple[Any, BaseException | None] | None = None

    def done(self) -> bool:
        return self._outcome is not None

    def set_result(self, result: Any) -> None:
        self._outcome = (result, None)

    def set_exception(self, error: BaseException) -> None:
        self._outcome = (None, error)

    def deliver(self) -> None:
        """On the loop: complete the future (unless its waiter gave up)."""
        if self.future.done() or self._outcome is None:
            return
        result, error = self._outcome
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(result)


def _deliver_all(waiters: list[_LoopWaiter]) -> None:
    for waiter in waiters:
        waiter.deliver()


Waiter = Union[_ThreadWaiter, _LoopWaiter]


class Writer:
    """Runs write operations one at a time on a single connection, committing them in groups."""

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        max_batch: int = 64,
        max_wait_s: float = 0.0,
        max_queue: int = DEFAULT_MAX_QUEUE,
        name: str = "kimia-writer",
        on_commit: Callable[[list[Any]], None] | None = None,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be positive")
        self._max_queue = max_queue
        self.refused = 0
        if not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"max_batch must be between 1 and {MAX_BATCH}")
        if not 0.0 <= max_wait_s <= 0.010:
            raise ValueError("max_wait_s must be between 0 and 10 ms")
        self._connect = connect
        #: Called on the writer thread with the events (``Tx.events``) of each committed batch,
        #: after its callers were answered; it must only hand them on, never block.
        self._on_commit = on_commit
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._last_size = 1
        # SimpleQueue is C-level (no Python Condition per put/get): the writer and every caller
        # touch it once per operation, so its cost is on the hot path.
        self._queue: queue.SimpleQueue[tuple[Work, Waiter] | None] = queue.SimpleQueue()
        self._closed = False
        self.batches = 0
        self.operations = 0
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def submit(self, work: Work, timeout_s: float = DEFAULT_TIMEOUT_S) -> Any:
        """Run ``work(tx)`` in the next batch; return its result once it is durable, or raise."""
        if self._closed:
            raise WriterClosed("the writer is closed")
        self._check_room()
        waiter = _ThreadWaiter()
        self._queue.put((work, waiter))
        return waiter.wait(timeout_s)

    def submit_async(self, work: Work) -> asyncio.Future[Any]:
        """From an event loop: queue ``work``; the future completes once it is durable, or fails."""
        if self._closed:
            raise WriterClosed("the writer is closed")
        self._check_room()
        waiter = _LoopWaiter(asyncio.get_running_loop())
        self._queue.put((work, waiter))
        return waiter.future

    def _check_room(self) -> None:
        """Refuse when the queue is full. ``qsize`` is C-level and cheap; concurrent callers may
        overshoot the bound by at most their own number, which keeps it a bound."""
        if self._queue.qsize() >= self._max_queue:
            self.refused += 1
            raise reject("overloaded")

    @staticmethod
    def _deliver(items: list[tuple[Work, Waiter]]) -> None:
        """Hand the outcomes of loop waiters to their loops, one call per loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_LoopWaiter]] = {}
        for _, waiter in items:
            if isinstance(waiter, _LoopWaiter) and waiter.done():
                by_loop.setdefault(waiter.loop, []).append(waiter)
        for loop, waiters in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver_all, waiters)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                log.info("an event loop closed before %d answers reached it", len(waiters))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _collect(self, first: tuple[Work, Waiter]) -> tuple[list[tuple[Work, Waiter]], bool]:
        """The next batch: ``first`` and whatever is queued. If fewer operations are queued than the
        last batch carried, wait up to ``max_wait_s`` for that many: under steady concurrency the
        callers the last batch answered are about to submit again, and one commit for all of them
        costs less than two. A lone caller (last batch of one) never waits."""
        batch = [first]
        expected = min(self._max_batch, self._last_size)
        deadline: float | None = None
        stop = False
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                if len(batch) >= expected or self._max_wait_s <= 0:
                    break
                if deadline is None:
                    deadline = time.monotonic() + self._max_wait_s
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is None:
                stop = True
                break
            batch.append(item)
        self._last_size = len(batch)
        return batch, stop

    def _run(self) -> None:
        try:
            conn = self._connect()
            tx = Tx(conn)
        except BaseException as exc:  # reported to the constructor's caller
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    break
                batch, stop = self._collect(first)
                self._run_batch(tx, batch)
                if stop:
                    break
        finally:
            conn.close()
            # Anything still queued after close gets a clear error rather than hanging.
            left: list[tuple[Work, Waiter]] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[1].set_exception(WriterClosed("the writer closed before this operation ran"))
                    left.append(item)
            self._deliver(left)

    @staticmethod
    def _runs(batch: list[tuple[Work, Waiter]]) -> list[list[tuple[Work, Waiter]]]:
        """Consecutive operations of one batchable kind form a run; every other operation is alone."""
        runs: list[list[tuple[Work, Waiter]]] = []
        for item in batch:
            # getattr, not isinstance: a runtime Protocol check costs microseconds per work.
            kind = getattr(item[0], "batch_kind", None)
            if kind is not None and runs and getattr(runs[-1][0][0], "batch_kind", None) == kind:
                runs[-1].append(item)
            else:
                runs.append([item])
        return runs

    def _run_single(self, tx: Tx, index: int, work: Work, future: Waiter) -> tuple[Waiter, Any, BaseException | None]:
        for attempt in range(RACE_RETRIES + 1):
            savepoint = f"op{index}_{attempt}"
            tx.savepoint(savepoint)
            mark = len(tx.events)
            try:
                result = work(tx)
            except KimiaError as exc:
                tx.rollback_to(savepoint)
                del tx.events[mark:]
                return (future, None, exc)
            except Exception as exc:
                tx.rollback_to(savepoint)
                del tx.events[mark:]
                if is_race(exc) and attempt < RACE_RETRIES:
                    # Another process committed the same idempotency key (or we deadlocked with
                    # it): run again; the key check now finds its answer.
                    log.info("operation raced another writer (%s); running it again", type(exc).__name__)
                    continue
                log.exception("operation failed")
                return (future, None, exc)
            tx.release(savepoint)
            return (future, result, None)
        raise AssertionError("unreachable")

    def _run_group(self, tx: Tx, index: int, run: list[tuple[Work, Waiter]]) -> list[tuple[Waiter, Any, BaseException | None]]:
        """Run a group of batchable operations together; on any surprise, one at a time instead."""
        savepoint = f"run{index}"
        tx.savepoint(savepoint)
        mark = len(tx.events)
        first = cast(Batchable, run[0][0])  # a run holds only works of one batch_kind (``_runs``)
        try:
            results = first.run_batch(tx, [work for work, _ in run])
        except Exception:
            log.info("bulk run of %d fell back to single operations", len(run), exc_info=True)
            tx.rollback_to(savepoint)
            del tx.events[mark:]
            return [self._run_single(tx, index * 1000 + n, work, future) for n, (work, future) in enumerate(run)]
        tx.release(savepoint)
        return [
            (future, None, result) if isinstance(result, BaseException) else (future, result, None)
            for (_, future), result in zip(run, results)
        ]

    def _run_batch(self, tx: Tx, batch: list[tuple[Work, Waiter]]) -> None:
        outcomes: list[tuple[Waiter, Any, BaseException | None]] = []
        tx.events = []
        tx.opened.clear()
        try:
            tx.begin_write()
            for index, run in enumerate(self._runs(batch)):
                if len(run) > 1:
                    outcomes.extend(self._run_group(tx, index, run))
                else:
                    outcomes.append(self._run_single(tx, index, *run[0]))
            tx.commit()
        except BaseException as exc:
            log.exception("batch of %d failed", len(batch))
            try:
                tx.rollback()
            except Exception:
                log.exception("rollback failed")
            tx.events = []
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            self._deliver(batch)
            return
        events, tx.events = tx.events, []
        self.batches += 1
        self.operations += len(batch)
        # Handed on before the callers are answered (a queue put, not the hooks themselves), so a
        # caller that waits for the events after its answer finds its own operation among them.
        if events and self._on_commit is not None:
            try:
                self._on_commit(events)
            except Exception:  # the batch is committed: nothing may undo that
                log.exception("handing on the events of a committed batch failed")
        for future, result, error in outcomes:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
        self._deliver(batch)
