"""The retail figures of the live view: per door or line, footfall summed since the view started; store occupancy.

Pure: fed the data of ``footfall`` and ``occupancy`` events. The capture rate is recomputed from the sums
(customers in / passers-by), not averaged over intervals, so a quiet interval weighs what it counted; only
intervals that carried passers_by count on either side (cameras and serial counters alike).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUMMED = ("in", "out", "staff_in", "staff_out", "child_in", "child_out", "groups_in", "groups_out", "passers_by",
          "u_turns")
"""The footfall counts that add up over intervals."""


@dataclass
class LineFigures:
    """One door or counting line of one device."""

    subject: str
    line: str
    counts: dict[str, int] = field(default_factory=dict)
    """Sums of the counts its events carried (a key is absent until an event carried it)."""
    captured_in: int = 0
    """``in`` of the intervals that carried passers_by: a serial counter's shop front may leave one out, and
    the customers of that interval have no passers-by to be compared with."""

    @property
    def capture_rate(self) -> float | None:
        """Customers in over passers-by, since the view started; None without passers-by."""
        passers = self.counts.get("passers_by")
        return self.captured_in / passers if passers else None


@dataclass
class StoreOccupancy:
    """A store occupancy's latest count, shown in the row of the first device that reported it."""

    count: int
    limit: int | None = None
    over: bool = False


@dataclass
class RetailFigures:
    """Footfall per (device, line) and store occupancy per device, in the order first seen."""

    lines: dict[tuple[str, str], LineFigures] = field(default_factory=dict)
    occupancy: dict[str, StoreOccupancy] = field(default_factory=dict)
    """By the device that first reported each occupancy name: several doors share one store count, and
    an alert comes from whichever door crossed the limit; it updates that one count, not a row of its own."""
    _shown_by: dict[str, str] = field(default_factory=dict)

    def apply(self, name: str, subject: str, data: dict[str, Any]) -> None:
        """Take one event's data (other types are ignored)."""
        if name == "footfall":
            line = str(data.get("line", "?"))
            figures = self.lines.get((subject, line))
            if figures is None:
                figures = self.lines[(subject, line)] = LineFigures(subject, line)
            for key in SUMMED:
                value = data.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    figures.counts[key] = figures.counts.get(key, 0) + value
            if isinstance(data.get("passers_by"), int) and isinstance(data.get("in"), int):
                figures.captured_in += data["in"]
        elif name == "occupancy" and data.get("scope") == "store" and isinstance(data.get("count"), int):
            subject = self._shown_by.setdefault(str(data.get("zone", "store")), subject)
            previous = self.occupancy.get(subject)
            limit = data.get("limit") if isinstance(data.get("limit"), int) else None
            over = previous.over if previous is not None else False
            if data.get("alert") in ("over", "under"):
                over = data["alert"] == "over"
            elif limit is not None:
                over = data["count"] > limit
            self.occupancy[subject] = StoreOccupancy(data["count"], limit, over)

    def any(self) -> bool:
        """Has any retail figure been seen (beyond plain in/out, which the device rows show)?"""
        return bool(self.occupancy) or any(set(line.counts) - {"in", "out"} for line in self.lines.values())
