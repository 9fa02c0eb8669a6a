"""Put several operations into one writer batch, for tests of what the batch path does.

The writer takes whatever is queued when it starts a batch. ``together`` holds the writer on a
work that waits, starts each call on its own thread, waits until all of them are queued, then lets
the writer go: its next batch is exactly those calls, in the order they were queued.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kimia.service import Kimia
from kimia.service.sql import Tx


def together(service: Kimia, calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` (each submitting one operation) so the writer takes them as one batch; their
    results (or the exceptions they raised), in order."""
    held, release = threading.Event(), threading.Event()

    def hold(tx: Tx) -> None:
        held.set()
        release.wait()

    blocker = threading.Thread(target=service.write, args=(hold,))
    blocker.start()
    held.wait()
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = []
    for i in range(len(calls)):
        # One at a time, so the queue's order is the calls' order.
        queued = service.writer._queue.qsize()
        threads.append(threading.Thread(target=run, args=(i,)))
        threads[-1].start()
        while service.writer._queue.qsize() == queued and threads[-1].is_alive():  # (refused before queueing)
            time.sleep(0.001)
    release.set()
    blocker.join()
    for t in threads:
        t.join()
    return results
