"""Inclusive ranges of sequence numbers: the arithmetic the replay, a consumer and the chaos check share."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator


class RangeSet:
    """Disjoint, sorted, inclusive ranges of integers; adding merges overlapping and adjacent ones."""

    __slots__ = ("_his", "_los")

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        """An empty set, or the union of ``ranges``."""
        self._los: list[int] = []
        self._his: list[int] = []
        for lo, hi in ranges:
            self.add(lo, hi)

    def add(self, lo: int, hi: int) -> None:
        """Add lo..hi (inclusive), merging with every range it overlaps or touches."""
        if hi < lo:
            return
        # ranges that overlap or touch lo..hi: his >= lo - 1 and los <= hi + 1
        start = bisect.bisect_left(self._his, lo - 1)
        end = bisect.bisect_right(self._los, hi + 1)
        if start < end:
            lo = min(lo, self._los[start])
            hi = max(hi, self._his[end - 1])
        self._los[start:end] = [lo]
        self._his[start:end] = [hi]

    def remove(self, lo: int, hi: int) -> None:
        """Take lo..hi (inclusive) out of the set."""
        if hi < lo:
            return
        start = bisect.bisect_left(self._his, lo)
        end = bisect.bisect_right(self._los, hi)
        if start >= end:
            return
        keep_los: list[int] = []
        keep_his: list[int] = []
        if self._los[start] < lo:
            keep_los.append(self._los[start])
            keep_his.append(lo - 1)
        if self._his[end - 1] > hi:
            keep_los.append(hi + 1)
            keep_his.append(self._his[end - 1])
        self._los[start:end] = keep_los
        self._his[start:end] = keep_his

    def overlap(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """The parts of the set inside lo..hi, in order."""
        start = bisect.bisect_left(self._his, lo)
        end = bisect.bisect_right(self._los, hi)
        return [(max(lo, self._los[i]), min(hi, self._his[i])) for i in range(start, end)]

    def first(self) -> tuple[int, int] | None:
        """The lowest range, or None when empty."""
        return (self._los[0], self._his[0]) if self._los else None

    def count(self) -> int:
        """How many integers the set holds."""
        return sum(hi - lo + 1 for lo, hi in zip(self._los, self._his, strict=True))

    def ranges(self) -> list[tuple[int, int]]:
        """The ranges, lowest first."""
        return list(zip(self._los, self._his, strict=True))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """Iterate over the ranges, lowest first."""
        return iter(self.ranges())

    def __len__(self) -> int:
        """Number of ranges (not of integers)."""
        return len(self._los)

    def __bool__(self) -> bool:
        """True when the set holds anything."""
        return bool(self._los)

    def __repr__(self) -> str:
        """Like RangeSet([(1, 5), (9, 9)])."""
        return f"RangeSet({self.ranges()!r})"


def gaps(seqs: list[int], lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """Ranges of lo..hi that are not in ``seqs`` (sorted ascending)."""
    start = bisect.bisect_left(seqs, lo)
    end = bisect.bisect_right(seqs, hi)
    expected = lo
    for seq in seqs[start:end]:
        if seq > expected:
            yield expected, seq - 1
        expected = seq + 1
    if expected <= hi:
        yield expected, hi
