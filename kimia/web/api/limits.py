"""Rate limits per API key: a token bucket per key in this process.

A key may make ``rate_per_min`` requests a minute (its own, or its kind's default below), with
bursts of up to a tenth of that (at least 10). Past it a request is answered 429
``rate_limited`` with ``Retry-After``. Buckets are per process: under several gunicorn worker
processes a key's limit is per worker (docs/operations.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

#: The largest request body accepted (larger: 413 ``request_too_large``).
MAX_REQUEST_BYTES = 1024 * 1024
#: Requests a minute by kind of key, unless the key says otherwise.
DEFAULT_RATE_PER_MIN: dict[str, int] = {"platform": 600, "management": 1_200, "integration": 6_000, "member": 120}


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # key id -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key_id: int, rate_per_min: int) -> float:
        """Take one request from the key's bucket: 0 if allowed, else seconds until one is."""
        per_s = rate_per_min / 60.0
        burst = max(10.0, rate_per_min / 10.0)
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key_id, (burst, now))
            tokens = min(burst, tokens + (now - at) * per_s)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / per_s


def retry_after_s(wait_s: float) -> int:
    return max(1, math.ceil(wait_s))
