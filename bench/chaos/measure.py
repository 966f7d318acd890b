"""Measurements over the run's samples and events: stalls while up and connected, readings lost before commit."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence


def good_intervals(samples: Sequence[tuple[float, bool]]) -> list[tuple[float, float]]:
    """Stretches where consecutive samples both saw the daemon up, connected and fault-free."""
    out: list[tuple[float, float]] = []
    for (t0, g0), (t1, g1) in itertools.pairwise(samples):
        if g0 and g1:
            if out and out[-1][1] == t0:
                out[-1] = (out[-1][0], t1)
            else:
                out.append((t0, t1))
    return out


def longest_stall(intervals: Sequence[tuple[float, float]], arrivals: Sequence[float],
                  low: float = float("-inf"), high: float = float("inf")) -> tuple[float, float]:
    """(longest time without a new event inside the intervals, clipped to low..high; when it began)."""
    best, at = 0.0, 0.0
    for a, b in intervals:
        a, b = max(a, low), min(b, high)
        if b <= a:
            continue
        prev = a
        i = bisect.bisect_right(arrivals, a)
        while i < len(arrivals) and arrivals[i] < b:
            if arrivals[i] - prev > best:
                best, at = arrivals[i] - prev, prev
            prev = arrivals[i]
            i += 1
        if b - prev > best:
            best, at = b - prev, prev
    return best, at


def synthetic_gaps(synthetic: dict[int, tuple[int, int]], received: set[int]) -> tuple[int, int]:
    """(readings lost before their commit, places): jumps in data.n between consecutive synthetic events."""
    lost = places = 0
    previous: tuple[int, int, int] | None = None
    for seq in sorted(synthetic):
        boot, n = synthetic[seq]
        if previous is not None:
            pseq, pboot, pn = previous
            contiguous = all(s in received for s in range(pseq + 1, seq)) if seq - pseq < 10_000 else False
            if boot == pboot and n > pn + 1 and contiguous:
                lost += n - pn - 1
                places += 1
        previous = (seq, boot, n)
    return lost, places
