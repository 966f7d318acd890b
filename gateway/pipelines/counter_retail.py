"""Retail figures of a serial people counter: staff badges, groups by time, passers-by and capture rate.

A beam or overhead counter reports cumulative in/out counts at reading times: a reading's delta is the
people who crossed somewhere in [previous reading, this reading], its *span*. That is the whole signal:
no image (no uniforms, no children), no position (groups by time only) and no approach (a U-turn is
never seen, so a counter's footfall has no ``u_turns``). Pure: ``FootfallCounter`` feeds it each
counted reading with its time; the badge sightings and the shop front's people come in as objects.

* **Staff**: a person of a reading is staff when a staff badge was heard at the door scanner, at
  ``rssi_min`` or stronger, within ``window_s`` of the reading's span, and the badge is armed
  (``BadgeClaims``, the camera's rule: one crossing per badge and direction, re-armed only by the badge's
  absence from the door, and one person of a reading per badge, whichever way). Three people in a reading
  and one badge near: one staff, two customers; one in and one out: one staff. A staff member standing at
  the door claims one person in and one out until they leave it.
* **Groups**: customers crossing the same way with gaps of at most ``group_window_s`` are one group. A
  reading's people get the reading's time, so several people of one reading are one group when its span
  is at most the window, and they join the previous reading's group when the readings are at most the
  window apart. A reading with a longer span cannot tell who came together: each of its people opens a
  group (``groups_in`` then equals ``in`` for them, an upper bound rather than a guess).
* **Passers-by**: another counter across the shop front, its customers both ways in the same aligned
  interval, asked through ``passers_by(start, end)`` (in the daemon: ``gateway/devices/shop_fronts.py``);
  ``capture_rate`` is the camera's (``passersby.capture_rate``). When the front did not report over the
  whole interval the answer is None and both fields are left out: never 0, never a rate from part of the
  interval. Likewise when this door's interval took in people of a reading of unknown span (the first
  after a start, which holds whoever passed while the daemon was down, or one after a silence longer than
  ``max_gap_s``): its ``in`` is not comparable with the front's people then.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from gateway.pipelines.groups import GroupCounter, GroupSettings
from gateway.pipelines.passersby import capture_rate
from gateway.pipelines.people.badge_claims import BadgeCheck, BadgeClaims
from gateway.pipelines.people.badges import BadgeSightings

LINE = "door"
"""A counter is one door: the key of its badge claims."""
_NOWHERE = (0.0, 0.0)
"""The position every person of a counter gets: groups are by time only (distance is infinite)."""

Reading = tuple[float | None, float, int]
"""(span start or None when unknown, reading time, customers in + out) of one counted reading."""


@dataclass(frozen=True)
class CounterRetailSettings:
    """What one counter reports beyond in/out; everything off by default."""

    staff: BadgeCheck | None = None
    badges: BadgeSightings | None = None
    """The door scanner's sightings (``gateway.devices.signals``); staff needs both."""
    group_window_s: float = 0.0
    """Seconds; 0: no groups."""
    passers_by: Callable[[float, float], int | None] | None = None
    """The shop front's people in [start, end), None when it did not report over all of it; None: no front."""
    max_gap_s: float = 10.0
    """A reading later than this after the previous one has an unknown span (the counter was silent)."""


class CounterRetail:
    """Splits each reading's people into staff and customers, groups customers, and adds the shop front."""

    def __init__(self, settings: CounterRetailSettings | None = None) -> None:
        """Nothing counted yet; everything off without ``settings``."""
        self.settings = settings or CounterRetailSettings()
        self.claims = BadgeClaims()
        self.groups: GroupCounter | None = None
        if self.settings.group_window_s > 0:
            self.groups = GroupCounter(GroupSettings(window_s=self.settings.group_window_s, distance=math.inf))
        self.staff = {"in": 0, "out": 0}
        """Staff of the running interval, per direction."""
        self.last: float | None = None
        """Time of the previous counted reading or baseline; None: unknown (before the first one of a run)."""
        self.unsure = False
        """The running interval holds people of a reading of unknown span."""
        self._reading: Reading | None = None
        self._readings = 0

    @property
    def checks_staff(self) -> bool:
        """True when staff badges are checked."""
        return self.settings.staff is not None and self.settings.badges is not None

    def restart(self, now: float) -> None:
        """Counting (re)starts at ``now`` (a new baseline): the next reading's span starts here."""
        self.last = now
        self._reading = (now, now, 0)  # a front has counted up to now, and nobody yet

    def split(self, people_in: int, people_out: int, now: float) -> tuple[int, int]:
        """One counted reading's people at ``now`` -> its customers (in, out); staff and groups kept."""
        last = self.last
        since = last if last is not None and 0.0 <= now - last <= self.settings.max_gap_s else None
        self.last = now
        if since is None and (people_in or people_out):
            self.unsure = True
        self._readings += 1
        customers: dict[str, int] = {}
        for direction, people in (("in", people_in), ("out", people_out)):
            staff = self._staff(direction, people, since, now)
            self.staff[direction] += staff
            customers[direction] = people - staff
            self._group(direction, people - staff, since, now)
        self._reading = (since, now, customers["in"] + customers["out"])
        return customers["in"], customers["out"]

    def _staff(self, direction: str, people: int, since: float | None, now: float) -> int:
        """How many of a reading's people one way armed badges near its span claim (each badge one)."""
        check, badges = self.settings.staff, self.settings.badges
        if check is None or badges is None or since is None:
            return 0  # a span not known cannot be put beside a sighting
        claimed = 0
        while claimed < people and self.claims.claim(badges, check, LINE, direction,
                                                     (self._readings, direction, claimed), now, since):
            claimed += 1
        return claimed

    def _group(self, direction: str, customers: int, since: float | None, now: float) -> None:
        """A reading's customers one way into groups: together when its span is within the window."""
        if self.groups is None:
            return
        together = since is not None and now - since <= self.settings.group_window_s
        for _ in range(customers):
            self.groups.add(direction, now, _NOWHERE, 1.0, alone=not together)

    def take_reading(self) -> Reading | None:
        """The last counted reading (or restart) since the previous call, for a shop-front board; once."""
        reading, self._reading = self._reading, None
        return reading

    def fields(self, start: float, end: float, customers_in: int) -> dict[str, int | float | None]:
        """The optional footfall fields of the interval [start, end) (only those configured); starts a new one."""
        fields: dict[str, int | float | None] = {}
        if self.checks_staff:
            fields["staff_in"], fields["staff_out"] = self.staff["in"], self.staff["out"]
        self.staff = {"in": 0, "out": 0}
        if self.groups is not None:
            fields["groups_in"], fields["groups_out"] = self.groups.take()
        if self.settings.passers_by is not None and not self.unsure:
            passers_by = self.settings.passers_by(start, end)
            if passers_by is not None:
                fields["passers_by"] = passers_by
                fields["capture_rate"] = capture_rate(customers_in, passers_by)
        self.unsure = False
        return fields
