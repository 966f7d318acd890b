"""Counting-line and zone geometry in image pixels."""

from __future__ import annotations

from dataclasses import dataclass

Point = tuple[float, float]


def cross(o: Point, a: Point, b: Point) -> float:
    """z of (a - o) x (b - o): > 0 when b is left of o->a."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """True when segment p1-p2 meets segment q1-q2 (touching counts)."""
    d1, d2 = cross(q1, q2, p1), cross(q1, q2, p2)
    d3, d4 = cross(p1, p2, q1), cross(p1, p2, q2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True

    def on(a: Point, b: Point, c: Point) -> bool:
        """True when point c lies within the bounding box of a-b."""
        return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    return ((d1 == 0 and on(q1, q2, p1)) or (d2 == 0 and on(q1, q2, p2)) or (d3 == 0 and on(p1, p2, q1))
            or (d4 == 0 and on(p1, p2, q2)))


@dataclass(frozen=True)
class CountingLine:
    """A segment a-b; ``inside`` is any point on the side that counts as inside the store."""

    name: str
    a: Point
    b: Point
    inside: Point

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValueError(f"line {self.name!r}: its two ends are the same point")
        if cross(self.a, self.b, self.inside) == 0:
            raise ValueError(f"line {self.name!r}: the inside point lies on the line")

    @property
    def length(self) -> float:
        """Length in pixels."""
        return ((self.b[0] - self.a[0]) ** 2 + (self.b[1] - self.a[1]) ** 2) ** 0.5

    def signed_distance(self, point: Point) -> float:
        """Distance from the infinite line, positive on the inside."""
        d = cross(self.a, self.b, point) / self.length
        return d if cross(self.a, self.b, self.inside) > 0 else -d

    def crossed_by(self, p: Point, q: Point) -> bool:
        """True when the movement p->q passes through the segment."""
        return segments_intersect(p, q, self.a, self.b)


@dataclass(frozen=True)
class Zone:
    """A polygon in which occupancy and dwell are measured."""

    name: str
    polygon: tuple[Point, ...]

    def contains(self, point: Point) -> bool:
        """Ray casting; points on an edge may go either way."""
        x, y = point
        inside = False
        n = len(self.polygon)
        for i in range(n):
            (x1, y1), (x2, y2) = self.polygon[i], self.polygon[(i + 1) % n]
            if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
                inside = not inside
        return inside


def bottom_centre(box: tuple[float, float, float, float]) -> Point:
    """Where a person stands: the middle of the box's bottom edge."""
    x1, _, x2, y2 = box
    return ((x1 + x2) / 2, y2)
