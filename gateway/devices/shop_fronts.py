"""Process-wide hand-over of a shop-front counter's people to the door that names it (``shop_front = "<id>"``).

Keyed by the front counter's device id. A door's runner ``watch``es its front, and ``unwatch``es it when
it stops (counted per watcher: the last door's unwatch drops the front and frees its readings); the front's runner
``post``s each counted reading (its span, its time, its customers both ways); the door's pipeline asks
``people(front, start, end)``: the people of the front's readings timed in [start, end), the same
attribution the door gives its own readings. The answer is None, not 0, when the front's readings do not
cover the whole of [start, end): a front that stopped reporting (or had not started, or was silent for
longer than its ``unplug_timeout_s``) gives no passers-by rather than a capture rate from part of the
interval. The front's latest reading also covers up to ``max_gap_s`` after it: people it has not
reported yet are in its next reading, timed in the door's next interval. A reading of unknown span (the
first after a silence, or after a start from a saved baseline) covers nothing and its people, who passed
during that silence, count in no interval. Numbers only: counts and times.
Thread-safe, like ``signals.py``, though the serial runners all post and ask on the loop.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from gateway.devices.watches import Watches

KEEP_S = 2 * 3600.0 + 300.0
"""Readings older than this (behind the front's latest) go: two of the longest door interval (3600 s)."""
MAX_READINGS = 40_000
"""Readings kept per front whatever their age (a zero-people reading extends the previous one instead)."""


@dataclass
class _Front:
    """One watched front: its recent readings (span start or None, time, people) and its silence limit."""

    readings: deque[tuple[float | None, float, int]] = field(default_factory=lambda: deque(maxlen=MAX_READINGS))
    max_gap_s: float = 10.0


class ShopFrontBoard:
    """The shop-front counters' recent people, for the doors that watch them."""

    def __init__(self, keep_s: float = KEEP_S) -> None:
        """No front watched yet; readings older than ``keep_s`` behind a front's latest are dropped."""
        self.keep_s = keep_s
        self._lock = threading.Lock()
        self._fronts: dict[str, _Front] = {}
        self._watches = Watches()  # front -> watcher (door id) -> watches not yet undone

    def watch(self, front_id: str, watcher: str = "") -> None:
        """A door (``watcher``) counts ``front_id``'s people as its passers-by: keep its readings from now on."""
        with self._lock:
            self._watches.add(front_id, watcher)
            self._fronts.setdefault(front_id, _Front())

    def unwatch(self, front_id: str, watcher: str = "") -> None:
        """Undo one ``watch`` of ``watcher``; the last one of all doors drops the front and its readings.

        A watcher that holds no watch there changes nothing: stopping twice cannot drop another door's watch.
        """
        with self._lock:
            if self._watches.remove(front_id, watcher):
                self._fronts.pop(front_id, None)  # up to MAX_READINGS readings freed; its posts are dropped now

    def watching(self, front_id: str) -> bool:
        """Does any door watch this counter?"""
        return front_id in self._fronts

    def post(self, front_id: str, since: float | None, now: float, people: int, max_gap_s: float) -> bool:
        """A reading of ``front_id``: ``people`` crossed in [since, now] (``since`` None: unknown); kept if watched."""
        with self._lock:
            front = self._fronts.get(front_id)
            if front is None:
                return False
            front.max_gap_s = max_gap_s
            readings = front.readings
            if people == 0 and readings and readings[-1][2] == 0 and since is not None and readings[-1][1] == since:
                readings[-1] = (readings[-1][0], now, 0)  # nobody again: one longer empty span, memory stays flat
            else:
                readings.append((since, now, people))
            while readings and readings[0][1] < now - self.keep_s:
                readings.popleft()
            return True

    def people(self, front_id: str, start: float, end: float) -> int | None:
        """The front's people timed in [start, end); None unless its readings cover all of it."""
        with self._lock:
            front = self._fronts.get(front_id)
            if front is None or not front.readings:
                return None
            readings = list(front.readings)
            max_gap_s = front.max_gap_s
        last = readings[-1][1]
        # what the front has counted: each reading's known span, and up to max_gap_s after its latest one
        spans = sorted([(since, t) for since, t, _ in readings if since is not None] + [(last, last + max_gap_s)])
        reach = start
        for span_start, span_end in spans:
            if span_end <= reach:
                continue
            if span_start > reach:
                return None  # a hole: the front was not counting then
            reach = span_end
            if reach >= end:
                break
        if reach < end:
            return None
        # a reading of unknown span holds people of the silence before it, which is not in [start, end)
        return sum(people for since, t, people in readings if since is not None and start <= t < end)

    def readings_held(self, front_id: str) -> int:
        """Readings kept for one front (for memory checks)."""
        with self._lock:
            front = self._fronts.get(front_id)
            return len(front.readings) if front is not None else 0

    def clear(self) -> None:
        """Forget every watch and reading (tests; a full reload)."""
        with self._lock:
            self._fronts.clear()
            self._watches.clear()


SHOP_FRONTS = ShopFrontBoard()
