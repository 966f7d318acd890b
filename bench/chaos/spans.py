"""Range arithmetic on sequence numbers (inclusive (first, last) spans), and spans parsed from the gateway's answers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.events.ranges import RangeSet, gaps


def ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, distinct numbers as inclusive (first, last) runs."""
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and out[-1][1] == n - 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def merge_ranges(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of inclusive ranges, sorted, overlapping and adjacent ones joined (never expanded)."""
    return RangeSet(spans).ranges()


def subtract_ranges(base: Iterable[tuple[int, int]], remove: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``base`` not in ``remove`` (both inclusive ranges)."""
    rest = RangeSet(base)
    for lo, hi in remove:
        rest.remove(lo, hi)
    return rest.ranges()


def gaps_in(spans: Iterable[tuple[int, int]], numbers: list[int]) -> list[tuple[int, int]]:
    """The parts of ``spans`` that hold none of ``numbers`` (sorted ascending)."""
    return [gap for lo, hi in merge_ranges(spans) for gap in gaps(numbers, lo, hi)]


def count_ranges(spans: Iterable[tuple[int, int]]) -> int:
    """How many numbers inclusive ranges hold."""
    return sum(hi - lo + 1 for lo, hi in spans)


def expand(spans: Iterable[tuple[int, int]], low: int = 1, high: int | None = None) -> set[int]:
    """The numbers of inclusive ranges, clipped to low..high."""
    out: set[int] = set()
    for lo, hi in spans:
        lo, hi = max(lo, low), hi if high is None else min(hi, high)
        if hi >= lo:
            out.update(range(lo, hi + 1))
    return out


def clip(spans: Iterable[tuple[int, int]], span: tuple[int, int]) -> list[tuple[int, int]]:
    """The parts of ``spans`` inside ``span``."""
    return [(max(lo, span[0]), min(hi, span[1])) for lo, hi in spans if hi >= span[0] and lo <= span[1]]


def parse_spans(value: Any) -> list[tuple[int, int]]:
    """Ranges from an answer, event or state file: [[lo, hi(, reason)], ...], [lo, hi] or {"from_seq", "to_seq"}."""
    spans: list[tuple[int, int]] = []
    if isinstance(value, dict):
        for lo_key, hi_key in (("from_seq", "to_seq"), ("first", "last"), ("from", "to"), ("lo", "hi")):
            if lo_key in value and hi_key in value:
                try:
                    spans.append((int(value[lo_key]), int(value[hi_key])))
                except (TypeError, ValueError):
                    pass
                break
        return spans
    if not isinstance(value, list):
        return spans
    if (len(value) in (2, 3) and all(isinstance(v, int) and not isinstance(v, bool) for v in value[:2])
            and (len(value) == 2 or isinstance(value[2], str))):  # [lo, hi] or the state file's [lo, hi, reason]
        return [(int(value[0]), int(value[1]))]
    for item in value[:100_000]:
        spans.extend(parse_spans(item))
    return spans
