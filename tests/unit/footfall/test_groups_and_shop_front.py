"""Groups, passers-by, U-turns, capture rate and the crossing-rule hook on synthetic trajectories."""

from __future__ import annotations

import itertools
import math

import pytest

from gateway.pipelines.footfall import FootfallPipeline, FootfallSettings
from gateway.pipelines.groups import GroupSettings
from gateway.pipelines.passersby import ShopFront
from gateway.vision.geometry import CountingLine, Zone
from gateway.vision.tracker import Track
from tests.unit.footfall.support import FPS, feed, only, path, run, scene

IN = [(100.0, 300.0), (460.0, 300.0)]
STREET = CountingLine("door:outside", (0, 240), (200, 240), inside=(100, 0))
"""Across the pavement left of the door: people walking down the street cross it."""
GROUPS = {"door": GroupSettings(window_s=2.0, distance=1.5)}
"""Boxes are 160 px tall: the pairs below walk 220 px apart, 1.4 box heights."""


def footfall(**settings: object) -> object:
    """The single footfall event of a run."""
    frames = settings.pop("frames")
    (data,) = only(run(frames, **settings)[1], "footfall")  # type: ignore[arg-type]
    return data


def test_a_pair_crossing_together_is_one_group_and_two_people() -> None:
    frames = scene((0, path([(100, 200), (460, 200)], 30)), (0, path([(90, 420), (450, 420)], 30)))
    data = footfall(frames=frames, groups=GROUPS)
    assert (data.in_, data.groups_in, data.groups_out) == (2, 1, 0)


def test_two_people_crossing_apart_in_time_are_two_groups() -> None:
    frames = scene((0, path(IN, 30)), (5, path(IN, 30)))
    assert footfall(frames=frames, groups=GROUPS).groups_in == 2


def test_two_people_crossing_together_but_far_apart_are_two_groups() -> None:
    frames = scene((0, path([(100, 200), (460, 200)], 30)), (0, path([(90, 420), (450, 420)], 30)))
    data = footfall(frames=frames, groups={"door": GroupSettings(window_s=2.0, distance=0.5)})
    assert (data.in_, data.groups_in) == (2, 2)


def test_groups_are_absent_unless_configured() -> None:
    data = footfall(frames=scene((0, path(IN, 30))))
    assert data.groups_in is None and data.passers_by is None and data.staff_in is None


def test_a_u_turn_at_the_door_is_counted_and_a_customer_is_not() -> None:
    front = {"door": ShopFront(u_turn_distance=0.5)}
    # up to 40 px (a quarter of a box height) from the door, then back down the street
    turn = scene((0, path([(60, 300), (280, 300), (60, 300)], 20)))
    data = footfall(frames=turn, shop_fronts=front)
    assert (data.u_turns, data.in_, data.out) == (1, 0, 0)
    assert footfall(frames=scene((0, path(IN, 30))), shop_fronts=front).u_turns == 0
    # in, and straight back out again: an in and an out, not a U-turn
    back = footfall(frames=scene((0, path([(60, 300), (460, 300), (60, 300)], 30))), shop_fronts=front)
    assert (back.in_, back.out, back.u_turns) == (1, 1, 0)
    # someone coming out and walking away was never armed: not a U-turn
    leaving = scene((0, path([(460, 300), (60, 300)], 30)))
    assert footfall(frames=leaving, shop_fronts=front).u_turns == 0
    # a walk along the street that never comes near the door is not one either
    assert footfall(frames=scene((0, path([(60, 470), (200, 470), (60, 470)], 20))), shop_fronts=front).u_turns == 0


SHORT_DOOR = CountingLine("door", (280, 200), (360, 200), inside=(320, 0))
"""A door 80 px wide in the shop front y = 200 (the store above it): people can walk past its ends."""


def at_short_door(points: list[tuple[float, float]]) -> tuple[int, int, int | None]:
    """(in, out, u_turns) of one person at the short door, U-turns within half a box height (80 px)."""
    front = {"door": ShopFront(u_turn_distance=0.5)}
    pipeline = FootfallPipeline(FootfallSettings(lines=[SHORT_DOOR], interval_s=3600, shop_fronts=front))
    frames = scene((0, points))
    events = feed(pipeline, frames) + pipeline.finish(len(frames) / FPS)
    (data,) = only(events, "footfall")
    return data.in_, data.out, data.u_turns


def steps(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A walk along a polyline at about 10 px a frame."""
    return path(points, max(math.ceil(math.dist(p, q) / 10) for p, q in itertools.pairwise(points)))


@pytest.mark.parametrize("walk", [
    [(20, 240), (620, 240)],  # straight along the shop front, 40 px from the door (the review's case)
    [(620, 240), (20, 240)],
    [(40, 330), (600, 210)],  # diagonally, passing 61 px from the door's right end
    [(600, 330), (40, 210)],
    [(20, 300), (320, 230), (620, 300)],  # bowing towards the door on the way past
], ids=["right", "left", "diagonal-up", "diagonal-down", "bowing"])
def test_walking_past_a_short_door_is_not_a_u_turn(walk: list[tuple[float, float]]) -> None:
    # each walk goes far (2 box heights), near (within one), far again: only the direction tells it apart
    assert at_short_door(steps(walk)) == (0, 0, 0)


@pytest.mark.parametrize(("walk", "turns"), [
    ([(320, 460), (320, 240), (320, 460)], 1),  # straight up to the door and back
    ([(120, 440), (300, 250), (160, 460)], 1),  # obliquely, leaving a little to the side it came from
    ([(320, 460), (320, 240), (320, 460), (320, 240), (320, 460)], 2),  # twice
], ids=["straight", "oblique", "twice"])
def test_coming_up_to_a_short_door_and_going_back_is_a_u_turn(walk: list[tuple[float, float]], turns: int) -> None:
    assert at_short_door(steps(walk)) == (0, 0, turns)


def test_going_in_or_coming_out_of_a_short_door_is_not_a_u_turn() -> None:
    assert at_short_door(steps([(320, 460), (320, 150)])) == (1, 0, 0)
    assert at_short_door(steps([(320, 150), (320, 460)])) == (0, 1, 0)
    # out, and off along the shop front: never armed before being near
    assert at_short_door(steps([(320, 150), (320, 240), (620, 240)])) == (0, 1, 0)


def test_passers_by_on_the_outside_line_and_capture_rate() -> None:
    down, up = path([(100, 180), (100, 470)], 25), path([(150, 470), (150, 180)], 25)
    frames = scene((0, down), (4, up), (8, path(IN, 30)))
    data = footfall(frames=frames, shop_fronts={"door": ShopFront(outside=STREET)})
    assert (data.passers_by, data.in_, data.capture_rate) == (2, 1, 0.5)
    assert data.u_turns is None


def test_capture_rate_is_null_without_passers_by() -> None:
    data = footfall(frames=scene((0, path(IN, 30))), shop_fronts={"door": ShopFront(outside=STREET)})
    assert (data.passers_by, data.in_, data.capture_rate) == (0, 1, None)


def test_passers_by_through_an_outside_zone_count_once_each() -> None:
    pavement = Zone("door:outside", ((0, 0), (200, 0), (200, 480), (0, 480)))
    # down the street, out of the zone towards the door and back into it: still one passer-by
    stroll = path([(100, 180), (100, 470), (260, 470), (100, 470)], 15)
    frames = scene((0, stroll), (5, path([(100, 180), (100, 470)], 25)))
    data = footfall(frames=frames, shop_fronts={"door": ShopFront(outside_zone=pavement)})
    assert data.passers_by == 2


class WideIsStaff:
    """A tiny crossing rule: a track ever seen with a box wider than 70 px is staff."""

    name = "staff"

    def __init__(self) -> None:
        self.wide: set[int] = set()
        self.observed: set[int] = set()
        self.forgotten: set[int] = set()

    def observe(self, track: Track, now: float) -> None:
        """Remember wide tracks."""
        assert track.confirmed
        self.observed.add(track.id)
        if track.box[2] - track.box[0] > 70:
            self.wide.add(track.id)

    def classify(self, track: Track, line: str, now: float, direction: str | None = None) -> bool:
        """Staff when it was ever wide."""
        return track.id in self.wide

    def forget(self, track_id: int) -> None:
        """Drop the evidence."""
        self.forgotten.add(track_id)
        self.wide.discard(track_id)


def test_a_rule_moves_its_crossings_out_of_in_and_out_and_out_of_groups() -> None:
    rule = WideIsStaff()
    frames = scene((0, path([(100, 200), (460, 200)], 30)), (0, path([(90, 420), (450, 420)], 30)),
                   (6, path([(460, 300), (100, 300)], 30)), (10, path([(100, 180), (100, 460)], 25)))
    for k in range(len(frames)):  # the people at y = 420 and on the street wear the wide "uniform"
        frames[k] = [[b[0] - 15, b[1], b[2] + 15, b[3], b[4]] if b[3] == 420 or b[0] == 70 else b
                     for b in frames[k]]
    pipeline, events = run(frames, rules=[rule], groups=GROUPS, shop_fronts={"door": ShopFront(outside=STREET)})
    (data,) = only(events, "footfall")
    assert (data.in_, data.out, data.staff_in, data.staff_out) == (1, 1, 1, 0)
    assert data.groups_in == 1 and data.child_in is None
    assert data.passers_by == 0, "staff walking down the street are not passers-by"
    assert len(pipeline.crossings) == 3, "accuracy still sees every crossing"
    assert rule.observed and rule.forgotten == rule.observed and not rule.wide

