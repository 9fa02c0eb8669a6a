"""What the API keeps for the life of the application (``app.extensions["kimia"]``): the service,
the key cache, the rate limiter and the record of last use. One per application, never global."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kimia.service import apikeys
from kimia.service.api import Kimia
from kimia.service.apikeys import ApiKeyRow
from kimia.web.api.limits import RateLimiter

#: How long a looked-up key is trusted without reading it again: a key revoked through another
#: process stops working within this many seconds (through this one, at once).
KEY_CACHE_S = 5.0
#: A key's last use is written at most this often.
LAST_USED_EVERY_S = 60


@dataclass
class ApiState:
    service: Kimia
    limiter: RateLimiter = field(default_factory=RateLimiter)
    _keys: dict[str, tuple[ApiKeyRow | None, float]] = field(default_factory=dict)
    _last_used: dict[int, int] = field(default_factory=dict)
    _roots: dict[int, tuple[int, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: Called by :meth:`close` before the service closes (the plugins' ``kimia_shutdown``).
    on_close: Callable[[], None] | None = None

    def key(self, public_id: str) -> ApiKeyRow | None:
        """The stored key of ``public_id`` (cached for :data:`KEY_CACHE_S`)."""
        now = time.monotonic()
        cached = self._keys.get(public_id)
        if cached is not None and now - cached[1] < KEY_CACHE_S:
            return cached[0]
        row = apikeys.lookup(self.service, public_id)
        with self._lock:
            if len(self._keys) > 100_000:
                self._keys.clear()
            self._keys[public_id] = (row, now)
        return row

    def root_club(self, club_id: int) -> int:
        """The root of ``club_id``'s tree, cached for :data:`KEY_CACHE_S` (as the service caches
        club paths: a club moved under another root is seen within as long)."""
        now = time.monotonic()
        cached = self._roots.get(club_id)
        if cached is not None and now - cached[1] < KEY_CACHE_S:
            return cached[0]
        with self.service.reading() as tx:
            root = self.service.caches.root_club(tx, club_id)
        with self._lock:
            self._roots[club_id] = (root, now)
        return root

    def forget(self, public_id: str) -> None:
        """Drop a key from the cache (it was revoked here)."""
        with self._lock:
            self._keys.pop(public_id, None)

    def used(self, row: ApiKeyRow) -> None:
        """Note that ``row`` was used now; written when it was last written a minute ago or more."""
        now = self.service.clock()
        last = self._last_used.get(row.id, row.last_used_at or 0)
        if now - last < LAST_USED_EVERY_S:
            return
        with self._lock:
            self._last_used[row.id] = now
        apikeys.touch(self.service, {row.id: now})

    def close(self) -> None:
        """Stop: the plugins are told (``on_close``), then the service closes. Once only."""
        on_close, self.on_close = self.on_close, None
        try:
            if on_close is not None:
                on_close()
        finally:
            self.service.close()
