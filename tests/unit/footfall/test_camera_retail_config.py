"""A camera config's retail keys become the footfall pipeline's settings; off by default."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from gateway.devices.camera.config import CameraConfig
from gateway.devices.camera.retail import retail_settings

LINE = {"name": "door", "x1": 320, "y1": 0, "x2": 320, "y2": 480, "inside": [600, 240]}
FLOOR = {"name": "floor", "polygon": [[340, 0], [640, 0], [640, 480]]}


def camera(**keys: object) -> CameraConfig:
    """A camera config with the door line and the given keys."""
    return msgspec.convert({"id": "cam", "kind": "camera", "source": "0", "lines": [LINE], **keys}, CameraConfig)


def test_nothing_is_on_by_default() -> None:
    settings = retail_settings(camera())
    assert (settings.groups, settings.shop_fronts, settings.occupancy) == ({}, {}, None)


def test_every_key_reaches_the_pipeline_settings() -> None:
    line = {**LINE, "outside": {"x1": 0, "y1": 240, "x2": 200, "y2": 240}, "u_turn_distance": 0.5,
            "group_distance": 0.8}
    settings = retail_settings(camera(lines=[line], zones=[FLOOR], group_window_s=2.0, occupancy_reset_at="22:30",
                                      occupancy_empty_zone="floor", empty_reset_s=60, occupancy_limit=40))
    assert (settings.groups["door"].window_s, settings.groups["door"].distance) == (2.0, 0.8)
    front = settings.shop_fronts["door"]
    assert front.outside is not None and front.outside.a == (0, 240) and front.u_turn_distance == 0.5
    occupancy = settings.occupancy
    assert occupancy is not None
    assert (occupancy.reset_at, occupancy.empty_zone, occupancy.empty_reset_s, occupancy.limit) == (
        dt.time(22, 30), "floor", 60, 40)


@pytest.mark.parametrize("keys", [{"occupancy_reset_at": "24:00"}, {"occupancy_empty_zone": "nowhere"},
                                  {"occupancy_limit": 0}, {"group_distance": 0}])
def test_bad_retail_keys_are_refused(keys: dict[str, object]) -> None:
    with pytest.raises((msgspec.ValidationError, ValueError)):
        camera(**keys)
