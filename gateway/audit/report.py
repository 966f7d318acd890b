"""The audit's comparison, one measure for the field (`storegw audit`) and the bench (annotated clips).

Manual crossings are the truth (key presses, or annotations); device crossings are what the device
counted, each a moment or, for devices that only report counts per interval, a span. Per direction,
a manual and a device crossing may match when the manual one lies within ``tolerance_s`` of the
device one's span; the matching is one to one and as large as it can be. Figures cover the window
[start, end]: a manual crossing in the window is matched or missed; an unmatched device crossing
whose middle is in the window is extra; so ``device = matched + extra`` also counts a person the
device saw just outside the window when the technician counted them just inside it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

DIRECTIONS = ("in", "out")


@dataclass(frozen=True, slots=True)
class Crossing:
    """One person crossing in ``direction`` at ``t``, or somewhere in [t, until] when the device reports spans."""

    direction: str
    t: float
    until: float | None = None

    @property
    def end(self) -> float:
        """Last moment the crossing may have happened."""
        return self.t if self.until is None else self.until

    @property
    def middle(self) -> float:
        """The moment used to place the crossing in the window and in a bucket."""
        return (self.t + self.end) / 2

    def gap(self, t: float) -> float:
        """Seconds from ``t`` to this crossing (0 inside its span)."""
        return max(0.0, self.t - t, t - self.end)


CrossingLike = Crossing | tuple[str, float] | tuple[str, float, float]


def as_crossing(item: CrossingLike) -> Crossing:
    """A Crossing from a Crossing or a (direction, t[, until]) tuple."""
    if isinstance(item, Crossing):
        return item
    if item[0] not in DIRECTIONS:
        raise ValueError(f"direction {item[0]!r}: use in or out")
    return Crossing(item[0], float(item[1]), float(item[2]) if len(item) > 2 else None)  # type: ignore[misc]


@dataclass(slots=True)
class Tally:
    """The comparison's figures of one direction, or of both together."""

    manual: int = 0
    device: int = 0
    matched: int = 0
    missed: int = 0
    extra: int = 0

    @property
    def net_accuracy(self) -> float | None:
        """1 - |device - manual| / manual: the count accuracy vendors quote (errors of both signs cancel)."""
        return None if self.manual == 0 else 1 - abs(self.device - self.manual) / self.manual

    @property
    def absolute_accuracy(self) -> float | None:
        """1 - (missed + extra) / manual: every miss and every extra count is an error."""
        return None if self.manual == 0 else 1 - (self.missed + self.extra) / self.manual

    def __add__(self, other: Tally) -> Tally:
        """Both tallies together."""
        return Tally(self.manual + other.manual, self.device + other.device, self.matched + other.matched,
                     self.missed + other.missed, self.extra + other.extra)


@dataclass(slots=True)
class Bucket:
    """Raw counts of one period of the window, by each crossing's time (middle of a span)."""

    offset_s: float
    manual: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DIRECTIONS, 0))
    device: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DIRECTIONS, 0))

    @property
    def error(self) -> int:
        """|device - manual| over both directions."""
        return abs(sum(self.device.values()) - sum(self.manual.values()))


@dataclass(slots=True)
class Report:
    """The whole comparison of one window."""

    start: float
    end: float
    tolerance_s: float
    bucket_s: float
    directions: dict[str, Tally]
    buckets: list[Bucket]
    resolution_s: float
    """Widest span among the device crossings (0 when each was reported on its own)."""

    @property
    def total(self) -> Tally:
        """Both directions together."""
        return self.directions["in"] + self.directions["out"]

    @property
    def bucket_mae(self) -> float | None:
        """Mean over the buckets of |device - manual| (both directions together)."""
        return sum(b.error for b in self.buckets) / len(self.buckets) if self.buckets else None


def _match(manual: Sequence[float], device: Sequence[Crossing], tolerance_s: float) -> tuple[set[int], set[int]]:
    """Indices of the matched manual and device crossings of one direction: a largest one-to-one matching.

    Glover's rule for intervals: manual crossings in time order each take, among the unused device
    crossings within reach (span +- tolerance), the one whose reach ends first.
    """
    order = sorted(range(len(device)), key=lambda k: device[k].t)
    reach: list[tuple[float, int]] = []  # heap of (end of reach, device index)
    used: set[int] = set()
    matched_device: set[int] = set()
    nxt = 0
    for i in sorted(range(len(manual)), key=lambda i: manual[i]):
        t = manual[i]
        while nxt < len(order) and device[order[nxt]].t - tolerance_s <= t:
            heapq.heappush(reach, (device[order[nxt]].end + tolerance_s, order[nxt]))
            nxt += 1
        while reach and reach[0][0] < t:
            heapq.heappop(reach)  # out of reach of this and every later manual crossing
        if reach:
            matched_device.add(heapq.heappop(reach)[1])
            used.add(i)
    return used, matched_device


def _buckets(manual: Iterable[Crossing], device: Iterable[Crossing], start: float, end: float,
             bucket_s: float) -> list[Bucket]:
    """Raw counts per period of ``bucket_s`` from ``start`` (the last one may be shorter)."""
    count = max(1, math.ceil((end - start) / bucket_s - 1e-9))
    buckets = [Bucket(k * bucket_s) for k in range(count)]
    for side, crossings in (("manual", manual), ("device", device)):
        for crossing in crossings:
            if start <= crossing.middle <= end:
                index = min(count - 1, int((crossing.middle - start) // bucket_s))
                getattr(buckets[index], side)[crossing.direction] += 1
    return buckets


def compare(manual: Iterable[CrossingLike], device: Iterable[CrossingLike], tolerance_s: float,
            start: float, end: float, bucket_s: float = 60.0) -> Report:
    """Compare manual (true) crossings with a device's over the window [start, end]."""
    if end < start or bucket_s <= 0 or tolerance_s < 0:
        raise ValueError("compare needs start <= end, bucket_s > 0 and tolerance_s >= 0")
    truth = sorted((as_crossing(c) for c in manual), key=lambda c: c.t)
    counted = sorted((as_crossing(c) for c in device), key=lambda c: c.t)
    directions = {}
    for direction in DIRECTIONS:
        m = [c.t for c in truth if c.direction == direction]
        d = [c for c in counted if c.direction == direction]
        used, matched_device = _match(m, d, tolerance_s)
        matched = sum(1 for i in used if start <= m[i] <= end)
        missed = sum(1 for i, t in enumerate(m) if i not in used and start <= t <= end)
        extra = sum(1 for k, c in enumerate(d) if k not in matched_device and start <= c.middle <= end)
        directions[direction] = Tally(manual=matched + missed, device=matched + extra, matched=matched,
                                      missed=missed, extra=extra)
    resolution = max((c.end - c.t for c in counted), default=0.0)
    return Report(start, end, tolerance_s, bucket_s, directions, _buckets(truth, counted, start, end, bucket_s),
                  resolution)
