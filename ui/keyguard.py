"""Attempts at the editor key, counted for the whole `hierograph ui` process (every browser
session at once): after `ui_editor_max_failures` wrong keys in a row, every attempt, right or
wrong, is refused for `ui_editor_lockout_seconds`, doubling with each further lockout, so the key
cannot be guessed at the speed a script types."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_MAX_LOCK_SECONDS = 3600.0


class Lockout:
    """Consecutive failures and the time until which attempts are refused."""

    def __init__(
        self, max_failures: int, lock_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.lock_seconds = lock_seconds
        self.clock = clock
        self.failures = 0
        self.lockouts = 0
        self.until = 0.0
        self._lock = threading.Lock()  # sessions run in threads of one process

    def wait_left(self) -> float:
        """Seconds until an attempt is heard again (0: now)."""
        with self._lock:
            return max(0.0, self.until - self.clock())

    def failed(self) -> None:
        with self._lock:
            self.failures += 1
            if self.failures >= self.max_failures:
                self.lockouts += 1
                self.failures = 0
                seconds = min(self.lock_seconds * 2 ** (self.lockouts - 1), _MAX_LOCK_SECONDS)
                self.until = self.clock() + seconds

    def succeeded(self) -> None:
        with self._lock:
            self.failures = self.lockouts = 0
            self.until = 0.0


_LOCKOUTS: dict[tuple[int, float], Lockout] = {}


def editor_lockout(max_failures: int, lock_seconds: float) -> Lockout:
    """The process-wide lockout for these limits (the same object on every rerun)."""
    return _LOCKOUTS.setdefault((max_failures, lock_seconds), Lockout(max_failures, lock_seconds))


def reset_lockouts() -> None:
    """Forget every count (a restart does the same)."""
    _LOCKOUTS.clear()
