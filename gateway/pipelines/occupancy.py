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

Several doors share one count through ``gateway/devices/store_occupancy.py`` (the thread-safe, saved
part); what stays here is pure: the count, ``EmptyZoneWatch`` (one per camera with an empty zone),
``DoorReading`` (what of a door counter's cumulative reading a count includes) and ``same_business_day``,
the rule that decides whether a count saved before a restart is still true. A restored count's next daily
reset is found from its save time by the same ``next_reset``, so the two always agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Protocol

from gateway.events.types.footfall import OccupancyData
from gateway.pipelines import Event

RESTORE_MAX_AGE_S = 12 * 3600.0
"""A count saved longer ago than this is not restored (start at 0): a box off that long has missed
more than a shift's comings and goings, even when no daily reset lies in between or none is set."""
CLOCK_SLACK_S = 60.0
"""A save up to this far in the future still counts as now (the clock was nudged by NTP); beyond, the clock
jumped back and the saved count's day is unknown."""


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


def next_reset(after: float, reset_at: dt.time | None, tz: dt.tzinfo | None) -> float | None:
    """The first daily reset moment strictly after ``after``; None without a reset time."""
    return None if reset_at is None else next_local(after, reset_at, tz)


def same_business_day(saved_at: float, now: float, reset_at: dt.time | None, tz: dt.tzinfo | None) -> bool:
    """May a count saved at ``saved_at`` be restored at ``now``?

    Only when it is at most RESTORE_MAX_AGE_S old and no daily reset moment (``reset_at``, local time)
    lies between the save and now: the store closed and emptied meanwhile otherwise.
    """
    if not -CLOCK_SLACK_S <= now - saved_at <= RESTORE_MAX_AGE_S:
        return False
    upcoming = next_reset(saved_at, reset_at, tz)  # the moment StoreOccupancy.restore resets at: the same rule
    return upcoming is None or upcoming > now


@dataclass(frozen=True)
class DoorReading:
    """A door counter's cumulative reading that a store count includes: its people up to it are counted."""

    sensor_id: str
    count_in: int
    count_out: int


@dataclass
class OccupancySettings:
    """Store occupancy options; all optional."""

    name: str = "store"
    reset_at: dt.time | None = None
    tz: dt.tzinfo | None = None
    empty_zone: str | None = None
    empty_reset_s: float = 300.0
    limit: int | None = None


class Occupancy(Protocol):
    """What the footfall pipelines call: a ``StoreOccupancy`` of their own, or a device's share of a common one."""

    settings: OccupancySettings
    """The device's own settings (its empty zone; the name it counts under)."""

    @property
    def count(self) -> int:
        """People in the store now."""

    def enter(self, n: int, now: float) -> list[Event]:
        """``n`` people came in; returns limit alerts."""

    def leave(self, n: int, now: float) -> list[Event]:
        """``n`` people went out; returns limit alerts."""

    def step(self, now: float, zone_empty: bool | None = None) -> list[Event]:
        """The daily reset, and the empty-zone correction when ``zone_empty`` is known."""

    def periodic(self, now: float) -> list[Event]:
        """The store-scope event of an interval's end, if this counter publishes it."""

    @property
    def saved_reading(self) -> DoorReading | None:
        """This door counter's reading the restored count already includes (None: count from the footfall delta)."""

    def counted(self, people_in: int, people_out: int, now: float, reading: DoorReading) -> list[Event]:
        """A door counter's reading: ``people_in`` in, then ``people_out`` out; the count now includes ``reading``."""


class EmptyZoneWatch:
    """Tells when a camera's empty zone has held nobody for a while: once per empty spell."""

    def __init__(self) -> None:
        """No empty spell seen yet."""
        self._since: float | None = None
        self._done = False

    def update(self, now: float, empty: bool, hold_s: float) -> bool:
        """True the first time the zone has been empty for ``hold_s`` in this spell."""
        if not empty:
            self._since, self._done = None, False
            return False
        if self._since is None:
            self._since = now
            return False
        if self._done or now - self._since < hold_s:
            return False
        self._done = True  # once per empty spell: people entering later count from 0
        return True


class StoreOccupancy:
    """The count of people in the store from in - out."""

    def __init__(self, settings: OccupancySettings, now: float | None = None) -> None:
        """A count of 0 made at ``now``; its next daily reset is known from then, before any ``step``."""
        self.settings = settings
        self.count = 0
        self.floored = 0
        """Outs dropped because the count was already 0."""
        self.daily_resets = 0
        self.drift_resets = 0
        self.over = False
        self._known: float | None = now
        """The latest moment this count knows of: a changed reset time is found from it."""
        self._next_reset = None if now is None else next_reset(now, settings.reset_at, settings.tz)
        self._empty = EmptyZoneWatch()

    @property
    def saved_reading(self) -> DoorReading | None:
        """A count of its own is never restored: no reading of a door is in it yet."""
        return None

    def counted(self, people_in: int, people_out: int, now: float, reading: DoorReading) -> list[Event]:
        """A door counter's reading: ins first (the order inside a reading is unknown; outs must not hit 0 early)."""
        return self.enter(people_in, now) + self.leave(people_out, now)

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
        self._known = now if self._known is None else max(self._known, now)
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
        if self._empty.update(now, zone_empty, self.settings.empty_reset_s):
            events += self.drift_reset(now)
        return events

    def drift_reset(self, now: float) -> list[Event]:
        """The shop floor is known to be empty: the count goes to 0 (a correction, if it was not)."""
        if not self.count:
            return []
        self.count = 0
        self.drift_resets += 1
        return self._alert(now)

    def restore(self, count: int, saved_at: float) -> None:
        """Take a count as of ``saved_at`` (kept across a restart, or a new day's 0); its limit alert was made before.

        The next daily reset is the first after ``saved_at``: one that falls before the first ``step`` (a counter
        steps only once it reads) still empties the store.
        """
        self.count = count
        self.over = self.settings.limit is not None and count > self.settings.limit
        self._known = saved_at
        self._next_reset = next_reset(saved_at, self.settings.reset_at, self.settings.tz)

    def configure(self, settings: OccupancySettings) -> None:
        """New name, reset time or limit (a reload); the count stays, the next reset is found again."""
        if (settings.reset_at, settings.tz) != (self.settings.reset_at, self.settings.tz):
            known = self._known
            self._next_reset = None if known is None else next_reset(known, settings.reset_at, settings.tz)
        self.settings = replace(settings)

    def event(self, now: float) -> Event:
        """The store-scope occupancy event of this moment (published every interval)."""
        return Event("occupancy", now, OccupancyData(zone=self.settings.name, count=self.count, scope="store",
                                                     limit=self.settings.limit))

    def periodic(self, now: float) -> list[Event]:
        """The event of an interval's end: a count of its own is always published."""
        return [self.event(now)]

    def _alert(self, now: float) -> list[Event]:
        """An alert event when the count has just gone over the limit or back under it."""
        limit = self.settings.limit
        if limit is None or (self.count > limit) == self.over:
            return []
        self.over = self.count > limit
        return [Event("occupancy", now, OccupancyData(zone=self.settings.name, count=self.count, scope="store",
                                                      limit=limit, alert="over" if self.over else "under"))]
