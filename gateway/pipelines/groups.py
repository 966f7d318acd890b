"""Groups (buying units): customers who cross the same line the same way together are one group.

Two crossings belong to one group when they are at most ``window_s`` apart in time and their
bottom-centre points at most ``distance`` box heights apart (the taller box of the two), so the
rule holds near and far from the camera alike. A crossing joins the group of any recent member
it is close to (chains: A-B and B-C make one group of three); otherwise it opens a new group.
A group is counted when it opens, in the interval of its first member. A group of one is a group.
A serial counter has no positions: its readings are grouped by time only (``distance`` infinite, see
``counter_retail.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gateway.vision.geometry import Point


@dataclass
class GroupSettings:
    """When crossings are one group."""

    window_s: float = 2.0
    distance: float = 1.5
    """In box heights (the taller of the two boxes)."""


@dataclass
class _Member:
    """A recent crossing: where, when, how tall, and which group it opened or joined."""

    time: float
    point: Point
    height: float
    group: int


@dataclass
class GroupCounter:
    """Groups per direction of one line; pure, fed with each counted customer crossing."""

    settings: GroupSettings
    groups: dict[str, int] = field(default_factory=lambda: {"in": 0, "out": 0})
    """Groups opened in the running interval, per direction."""
    _recent: dict[str, list[_Member]] = field(default_factory=lambda: {"in": [], "out": []})
    _next_group: int = 0

    def add(self, direction: str, now: float, point: Point, height: float, alone: bool = False) -> int:
        """One customer crossing; returns the id of the group it belongs to.

        ``alone``: it opens a group of its own whoever is near (a serial counter's reading too long to tell
        whether its people came together); later crossings may still join it.
        """
        recent = [m for m in self._recent[direction] if now - m.time <= self.settings.window_s]
        self._recent[direction] = recent
        for member in [] if alone else recent:
            scale = max(member.height, height, 1.0)
            if math.dist(member.point, point) <= self.settings.distance * scale:
                recent.append(_Member(now, point, height, member.group))
                return member.group
        self._next_group += 1
        self.groups[direction] += 1
        recent.append(_Member(now, point, height, self._next_group))
        return self._next_group

    def take(self) -> tuple[int, int]:
        """(groups_in, groups_out) of the interval, and start a fresh one."""
        counts = self.groups["in"], self.groups["out"]
        self.groups = {"in": 0, "out": 0}
        return counts
