"""Per-token rate limits: a token bucket per API token (``rate`` requests/s sustained,
``burst`` at once). Kept in the server's memory: a limit protects the ledger from one noisy
client, it is not a quota, so a restart forgetting it is harmless; several servers behind a
balancer each apply it."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    rate: float = 20.0  # requests/s per token, sustained; a deletion client sends a few
    burst: int = 100  # requests a token may send at once (a batch of submissions)

    def __post_init__(self) -> None:
        if not (self.rate > 0 and self.burst >= 1):
            raise ValueError(f"rate limit: rate={self.rate} (want > 0), burst={self.burst} "
                             "(want >= 1)")


class Buckets:
    def __init__(self, limit: RateLimit, clock: object = time.monotonic) -> None:
        self.limit, self._clock = limit, clock
        self._state: dict[str, tuple[float, float]] = {}  # token id -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 if ``key`` may go now (and charge it), else the seconds until it may."""
        t = self._clock()  # type: ignore[operator]
        with self._lock:
            tokens, at = self._state.get(key, (float(self.limit.burst), t))
            tokens = min(float(self.limit.burst), tokens + (t - at) * self.limit.rate)
            if tokens >= 1.0:
                self._state[key] = (tokens - 1.0, t)
                return 0.0
            self._state[key] = (tokens, t)
            return (1.0 - tokens) / self.limit.rate

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
