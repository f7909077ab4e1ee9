"""A per-client token bucket: each client may send `burst` requests at once and `rate` per
second sustained; past that it gets 429 with the seconds to wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBuckets:
    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until a token is free."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._remember(client, (tokens - 1, now))
                return 0.0
            self._remember(client, (tokens, now))
            return (1 - tokens) / self.rate

    def _remember(self, client: str, state: tuple[float, float]) -> None:
        # Many distinct clients must not grow memory without bound: full buckets are
        # indistinguishable from new ones, so they are the ones dropped.
        if len(self._buckets) >= self.max_clients and client not in self._buckets:
            now = self.clock()
            self._buckets = {
                c: (t, last)
                for c, (t, last) in self._buckets.items()
                if t + (now - last) * self.rate < self.burst
            }
        self._buckets[client] = state
