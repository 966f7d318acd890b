"""Store occupancy from in - out that stays true: never negative, reset daily, drift corrected.

Pure: time comes in as ``now`` and the local time zone as a ``tzinfo`` (None: the box's own zone,
read by ``datetime.astimezone``, which needs no clock). The count is everyone who crossed (staff
and children included: a limit is about people in the room). An ``out`` at zero is dropped, not
carried (``floored``), so an early-morning miss never turns into a negative store. At
``reset_at`` local time every day the count goes to 0 (closing); when ``empty_zone``, a camera
zone covering the shop floor, has held nobody for ``empty_reset_s``, the count goes to 0 too
(``drift_resets`` counts the corrections that changed it). With ``limit``, an ``occupancy`` event
with ``alert: "over"`` is made when the count goes above the limit and one with ``alert:
"under"`` when it falls back to it or below, once each per crossing of the limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gateway.events.types.footfall import OccupancyData
from gateway.pipelines import Event


def parse_hhmm(text: str) -> dt.time:
    """"22:30" -> time(22, 30); ValueError otherwise."""
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{text!r} is not HH:MM")
    return dt.time(int(hours), int(minutes))


def next_local(now: float, at: dt.time, tz: dt.tzinfo | None) -> float:
    """Epoch seconds of the first local wall-clock ``at`` strictly after ``now``."""
    local = dt.datetime.fromtimestamp(now, tz) if tz is not None else dt.datetime.fromtimestamp(now).astimezone()
    day = local.date()
    for _ in range(3):  # today, tomorrow, or the day after when a DST gap swallows the time
        naive = dt.datetime.combine(day, at)
        # a naive datetime's astimezone() reads it as the box's local time, with that day's offset
        candidate = naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()
        if candidate.timestamp() > now:
            break
        day += dt.timedelta(days=1)
    return candidate.timestamp()


@dataclass
class OccupancySettings:
    """Store occupancy options; all optional."""

    name: str = "store"
    reset_at: dt.time | None = None
    tz: dt.tzinfo | None = None
    empty_zone: str | None = None
    empty_reset_s: float = 300.0
    limit: int | None = None


class StoreOccupancy:
    """The count of people in the store from in - out."""

    def __init__(self, settings: OccupancySettings) -> None:
        self.settings = settings
        self.count = 0
        self.floored = 0
        """Outs dropped because the count was already 0."""
        self.daily_resets = 0
        self.drift_resets = 0
        self.over = False
        self._next_reset: float | None = None
        self._empty_since: float | None = None
        self._empty_done = False

    def enter(self, n: int, now: float) -> list[Event]:
        """``n`` people came in."""
        events = self.step(now)
        self.count += n
        return events + self._alert(now)

    def leave(self, n: int, now: float) -> list[Event]:
        """``n`` people went out; the count stops at 0."""
        events = self.step(now)
        taken = min(n, self.count)
        self.floored += n - taken
        self.count -= taken
        return events + self._alert(now)

    def step(self, now: float, zone_empty: bool | None = None) -> list[Event]:
        """The daily reset, and the empty-zone correction when ``zone_empty`` is known."""
        events: list[Event] = []
        at = self.settings.reset_at
        if at is not None:
            if self._next_reset is None:
                self._next_reset = next_local(now, at, self.settings.tz)
            elif now >= self._next_reset:
                self.count = 0
                self.daily_resets += 1
                self._next_reset = next_local(now, at, self.settings.tz)
                events += self._alert(now)
        if zone_empty is None or self.settings.empty_zone is None:
            return events
        if not zone_empty:
            self._empty_since, self._empty_done = None, False
        elif self._empty_since is None:
            self._empty_since = now
        elif not self._empty_done and now - self._empty_since >= self.settings.empty_reset_s:
            self._empty_done = True  # once per empty spell: people entering later count from 0
            if self.count:
                self.count = 0
                self.drift_resets += 1
                events += self._alert(now)
        return events

    def event(self, now: float) -> Event:
        """The store-scope occupancy event of this moment (published every interval)."""
        return Event("occupancy", now, OccupancyData(zone=self.settings.name, count=self.count, scope="store",
                                                     limit=self.settings.limit))

    def _alert(self, now: float) -> list[Event]:
        """An alert event when the count has just gone over the limit or back under it."""
        limit = self.settings.limit
        if limit is None or (self.count > limit) == self.over:
            return []
        self.over = self.count > limit
        return [Event("occupancy", now, OccupancyData(zone=self.settings.name, count=self.count, scope="store",
                                                      limit=limit, alert="over" if self.over else "under"))]
