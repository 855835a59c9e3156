"""In-process rate limits (token buckets per client address and per conversation) and the guard that
lets one conversation answer one message at a time.

Both are per process: with several replicas behind a load balancer, each enforces its own share.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``burst`` requests at once per key, refilled at ``per_minute``; ``take`` says how long to
    wait when the bucket is empty."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """0 when the request may go ahead (a token is spent), else the seconds until one may."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > self.max_keys:
                    self._forget_full(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        # A refilled bucket is the same as no bucket: dropping those bounds memory under many clients.
        full = [
            k
            for k, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]


class Busy:
    """Conversations with a turn in progress: a second message waits for the first's answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[str] = set()

    def acquire(self, conversation_id: str) -> bool:
        with self._lock:
            if conversation_id in self._busy:
                return False
            self._busy.add(conversation_id)
            return True

    def release(self, conversation_id: str) -> None:
        with self._lock:
            self._busy.discard(conversation_id)
