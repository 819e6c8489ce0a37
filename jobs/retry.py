"""Retry policy: exponential backoff with jitter, capped. Pure functions, property-tested."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Delay after failed attempt n: base * factor**(n-1), capped, then jittered down."""

    base: float = 2.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0 or self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError(f"invalid retry policy {self!r}")

    def delay_before_jitter(self, attempt: int) -> float:
        """Return the capped exponential delay in seconds after failed attempt `attempt`."""
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        if self.base == 0 or self.cap == 0:
            return 0.0
        exponent = attempt - 1
        # Compare in log space first, so large attempt numbers never overflow a float.
        if math.log(self.base) + exponent * math.log(self.factor) >= math.log(self.cap):
            return self.cap
        return min(self.cap, self.base * self.factor**exponent)

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Return the delay with jitter: somewhere in [(1 - jitter) * d, d] for the capped d."""
        capped = self.delay_before_jitter(attempt)
        return capped * (1 - self.jitter * rng())


DEFAULT_POLICY = RetryPolicy()
