"""Demographics aggregation: one estimate per track, per-interval cells, k-anonymity suppression.

Pure. The camera integration calls ``observe`` with the first confident age/gender estimate of
a track (made in RAM from a face crop that is dropped at once); this module keeps only the band
and gender per track id until the interval closes, then forgets the ids.
"""

from __future__ import annotations

import math
from collections import Counter

from gateway.events.envelope import rfc3339
from gateway.events.types.demographics import DemographicsCell, DemographicsData
from gateway.pipelines import Event

BANDS = ((25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64"), (math.inf, "65+"))


def age_band(age: float) -> str | None:
    """The reported band of an age; None under 18 (minors are never reported)."""
    if age < 18:
        return None
    return next(name for limit, name in BANDS if age < limit)


class DemographicsAggregator:
    """Collects one estimate per track and emits suppressed aggregates per interval."""

    def __init__(self, line: str, interval_s: float = 900.0, k: int = 10, min_confidence: float = 0.6) -> None:
        if k < 2:
            raise ValueError("k must be at least 2")
        self.line = line
        self.interval_s = interval_s
        self.k = k
        self.min_confidence = min_confidence
        self.start: float | None = None
        self._cells: Counter[tuple[str, str]] = Counter()
        self._estimated: set[int] = set()

    def needs_estimate(self, track_id: int) -> bool:
        """True until a track has been estimated once in this interval."""
        return track_id not in self._estimated

    def observe(self, track_id: int, age: float, gender: str, confidence: float, now: float) -> list[Event]:
        """The estimate of one track (kept only if confident, once per track)."""
        events = self.tick(now)
        if track_id in self._estimated or confidence < self.min_confidence or gender not in ("female", "male"):
            return events
        self._estimated.add(track_id)
        band = age_band(age)
        if band is not None:
            self._cells[(band, gender)] += 1
        return events

    def tick(self, now: float) -> list[Event]:
        """Emit every interval that has ended."""
        if self.start is None:
            self.start = math.floor(now / self.interval_s) * self.interval_s
            return []
        events = []
        while now >= self.start + self.interval_s:
            events.append(self._emit(self.start, self.start + self.interval_s))
            self.start += self.interval_s
        return events

    def _emit(self, start: float, end: float) -> Event:
        """The interval's aggregate, then forget it."""
        published = [DemographicsCell(age_band=band, gender=gender, count=count)  # type: ignore[arg-type]
                     for (band, gender), count in sorted(self._cells.items()) if count >= self.k]
        suppressed = sum(1 for count in self._cells.values() if count < self.k)
        data = DemographicsData(line=self.line, interval_start=rfc3339(start), interval_s=end - start, k=self.k,
                                cells=published, total=sum(c.count for c in published), suppressed_cells=suppressed)
        self._cells.clear()
        self._estimated.clear()
        return Event("demographics", end, data)
