"""Capped exponential backoff with full jitter, shared by every poll and retry."""

from __future__ import annotations

import random


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
