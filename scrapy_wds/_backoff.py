"""How long to wait before trying again: capped jittered backoff and ``Retry-After``, for both halves."""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime


def backoff_delay(
    attempt: int,
    *,
    first: float,
    cap: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 0).

    The ceiling doubles from ``first`` up to ``cap``; the delay is drawn
    between half the ceiling and the ceiling, so many waiters started
    together spread out instead of polling in lockstep, yet none polls much
    earlier than the schedule says.
    """
    if attempt < 0:
        raise ValueError("attempt counts from 0")
    ceiling = min(cap, first * (2 ** min(attempt, 32)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def parse_retry_after(value: bytes | None) -> float | None:
    """``Retry-After`` in seconds (a number of seconds or an HTTP date); ``None`` if absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
