"""Counting geometry."""

from __future__ import annotations

import pytest

from gateway.vision.geometry import CountingLine, Zone, bottom_centre, segments_intersect


def test_segments_intersect_including_touching_and_parallel() -> None:
    assert segments_intersect((0, 0), (10, 10), (0, 10), (10, 0))
    assert not segments_intersect((0, 0), (1, 1), (2, 2), (3, 5))
    assert segments_intersect((0, 0), (5, 0), (5, -1), (5, 1))  # touching an end
    assert not segments_intersect((0, 0), (5, 0), (0, 1), (5, 1))  # parallel


def test_signed_distance_is_positive_on_the_inside_whichever_way_the_line_is_drawn() -> None:
    a = CountingLine("door", (100, 0), (100, 200), inside=(150, 50))
    b = CountingLine("door", (100, 200), (100, 0), inside=(150, 50))
    for line in (a, b):
        assert line.signed_distance((130, 10)) == pytest.approx(30)
        assert line.signed_distance((90, 10)) == pytest.approx(-10)
        assert line.crossed_by((90, 100), (110, 100)) and not line.crossed_by((90, 300), (110, 300))


def test_invalid_lines_are_refused() -> None:
    with pytest.raises(ValueError):
        CountingLine("x", (1, 1), (1, 1), (5, 5))
    with pytest.raises(ValueError):
        CountingLine("x", (0, 0), (10, 0), (5, 0))


def test_zone_contains_and_bottom_centre() -> None:
    zone = Zone("till", ((0, 0), (100, 0), (100, 100), (0, 100)))
    assert zone.contains((50, 50)) and not zone.contains((150, 50))
    assert bottom_centre((10, 20, 30, 80)) == (20, 80)
