"""The shop front: passers-by on an outside line or zone, and U-turns at the door.

Pure helpers for ``footfall.py``. A passer-by is a crossing of the outside line either way (the
footfall pipeline's own hysteresis machine counts it, so jitter never counts) or a confirmed track
that has been in the outside zone, counted once when it leaves the zone or ends.

A U-turn is a person who comes up to the door from the street and goes back the way they came
without crossing. Distances are in box heights (perspective-robust): a track is *armed* once seen on
the outside at least ``2 * u_turn_distance`` from the counting segment, *near* once it then comes
within ``u_turn_distance``, and when it goes back beyond ``2 * u_turn_distance`` still on the outside
it is a U-turn only if it reversed: the approach (from its last far point to its nearest point) and
the departure (from there to its first far point again) make an angle over ``U_TURN_ANGLE``. Distance
alone is not enough: someone walking along the shop front past a short door segment also goes far,
near, far, but keeps going the same way. Being on the inside disarms it, so a customer who walks in
is never a U-turn, and one who comes out and walks away is not either (never armed before being near).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gateway.vision.geometry import CountingLine, Point, Zone

U_TURN_ANGLE = 120.0
"""Degrees between approach and departure above which a track went back the way it came."""
_U_TURN_COS = math.cos(math.radians(U_TURN_ANGLE))


@dataclass(frozen=True)
class ShopFront:
    """What one counting line watches on its street side (each part optional)."""

    outside: CountingLine | None = None
    """Crossings of it, either way, are passers-by."""
    outside_zone: Zone | None = None
    """Tracks through it are passers-by (used when there is no outside line)."""
    u_turn_distance: float | None = None
    """Box heights from the counting segment that count as having come up to the door; None: off."""

    @property
    def counts_passers_by(self) -> bool:
        """True when an outside line or zone is configured."""
        return self.outside is not None or self.outside_zone is not None


def capture_rate(customers_in: int, passers_by: int | None) -> float | None:
    """Customers in over passers-by of one interval (3 decimals); None without passers-by (no rate from 0).

    The one definition for cameras and serial counters: ``customers_in`` is ``in`` after staff and child
    exclusion, ``passers_by`` the shop front's people of the same interval.
    """
    return round(customers_in / passers_by, 3) if passers_by else None


def segment_distance(line: CountingLine, point: Point) -> float:
    """Distance from ``point`` to the segment a-b of ``line`` (not the infinite line)."""
    (ax, ay), (bx, by) = line.a, line.b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((point[0] - ax) * dx + (point[1] - ay) * dy) / (dx * dx + dy * dy)))
    return math.dist(point, (ax + t * dx, ay + t * dy))


@dataclass
class Approach:
    """One track's approach to one door."""

    far: Point | None = None
    """Its last position far from the door on the outside; None: not armed."""
    nearest: Point | None = None
    """Its position closest to the door since it was armed."""
    nearest_distance: float = math.inf
    """That position's distance to the door segment in box heights."""


def reversed_course(start: Point, turn: Point, end: Point) -> bool:
    """True when start->turn and turn->end point back at each other (an angle over U_TURN_ANGLE)."""
    ux, uy = turn[0] - start[0], turn[1] - start[1]
    vx, vy = end[0] - turn[0], end[1] - turn[1]
    norms = math.hypot(ux, uy) * math.hypot(vx, vy)
    return norms > 0 and (ux * vx + uy * vy) / norms < _U_TURN_COS


def approach_step(state: Approach, line: CountingLine, point: Point, height: float, near: float) -> bool:
    """Advance one track's approach by one position; True when this step completes a U-turn."""
    if line.signed_distance(point) > 0:
        state.far, state.nearest, state.nearest_distance = None, None, math.inf
        return False
    distance = segment_distance(line, point) / max(height, 1.0)
    if distance >= 2 * near:
        turned = (state.far is not None and state.nearest is not None and state.nearest_distance <= near
                  and reversed_course(state.far, state.nearest, point))
        # re-armed here either way: the next approach is measured from this point
        state.far, state.nearest, state.nearest_distance = point, None, math.inf
        return turned
    # only an armed track can turn: one that starts near the door never does
    if state.far is not None and distance < state.nearest_distance:
        state.nearest, state.nearest_distance = point, distance
    return False


@dataclass
class ZoneTraversals:
    """Tracks that have been in an outside zone, each counted once when it leaves or ends."""

    zone: Zone
    inside: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)

    def step(self, track_id: int, point: Point) -> bool:
        """One position of a confirmed track; True when it has just passed through the zone."""
        if self.zone.contains(point):
            if track_id not in self.done:
                self.inside.add(track_id)
            return False
        if track_id in self.inside:
            self.inside.discard(track_id)
            self.done.add(track_id)
            return True
        return False

    def end(self, track_id: int) -> bool:
        """A track is gone; True when it ended in the zone and was not counted yet."""
        self.done.discard(track_id)
        if track_id in self.inside:
            self.inside.discard(track_id)
            return True
        return False
