"""Config of cameras: source, counting lines, zones, rates, and the retail figures (all off by default)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from gateway.devices.camera.staff_config import ChildrenConfig, StaffConfig
from gateway.devices.occupancy_config import StoreOccupancyOptions

Coord = Annotated[float, msgspec.Meta(ge=0, le=100_000)]
Polygon = Annotated[list[Annotated[list[Coord], msgspec.Meta(min_length=2, max_length=2)]], msgspec.Meta(min_length=3)]
BoxHeights = Annotated[float, msgspec.Meta(gt=0, le=10, description="in box heights (perspective-robust)")]
GroupWindow = Annotated[float, msgspec.Meta(ge=0, le=30, description="seconds; 0: groups off")]


class SegmentConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A segment in image pixels (an outside line: direction does not matter)."""

    x1: Coord
    y1: Coord
    x2: Coord
    y2: Coord

    def __post_init__(self) -> None:
        """Two distinct ends."""
        if (self.x1, self.y1) == (self.x2, self.y2):
            raise ValueError("an outside line needs two distinct ends")


class LineConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A counting line in image pixels; `inside` is a point on the store side."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    x1: Coord
    y1: Coord
    x2: Coord
    y2: Coord
    inside: Annotated[list[Coord], msgspec.Meta(min_length=2, max_length=2)]
    outside: Annotated[SegmentConfig | None, msgspec.Meta(
        description="a line on the street side: its crossings, either way, are passers-by")] = None
    outside_zone: Annotated[Polygon | None, msgspec.Meta(
        description="or a zone on the street side: tracks through it are passers-by")] = None
    u_turn_distance: Annotated[BoxHeights | None, msgspec.Meta(
        description="count U-turns: coming this close (box heights) to the line from outside, then going back")] = None
    group_window_s: Annotated[GroupWindow | None, msgspec.Meta(description="overrides the camera's")] = None
    group_distance: Annotated[BoxHeights | None, msgspec.Meta(description="overrides the camera's")] = None
    staff: Annotated[StaffConfig | None, msgspec.Meta(
        description="staff crossings (uniform or badge) go to staff_in/staff_out, not in/out")] = None

    def __post_init__(self) -> None:
        """One source of passers-by per line."""
        if self.outside is not None and self.outside_zone is not None:
            raise ValueError(f"line {self.name!r}: give outside or outside_zone, not both")


class ZoneConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A polygon (at least 3 [x, y] points) for occupancy and dwell."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    polygon: Polygon


class DemographicsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Anonymous age band and gender aggregates; off until enabled."""

    enabled: bool = False
    k: Annotated[int, msgspec.Meta(ge=2, le=1000, description="cells under k people are suppressed")] = 10
    interval_s: Annotated[float, msgspec.Meta(ge=60, le=86400)] = 900.0
    min_confidence: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.6


class CameraConfig(StoreOccupancyOptions, tag="camera"):
    """A camera: USB index, RTSP/HTTP URL or a video file."""

    source: Annotated[str, msgspec.Meta(min_length=1, description="0 (USB), rtsp://..., or a file path")]
    fps: Annotated[float, msgspec.Meta(gt=0, le=60, description="frame rate asked of the source")] = 10.0
    detect_fps: Annotated[float, msgspec.Meta(gt=0, le=60, description="frames processed per second")] = 10.0
    loop: Annotated[bool, msgspec.Meta(description="loop a video file")] = False
    lines: list[LineConfig] = msgspec.field(default_factory=list)
    zones: list[ZoneConfig] = msgspec.field(default_factory=list)
    interval_s: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 60.0
    score_threshold: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 0.3
    hysteresis_px: Annotated[float, msgspec.Meta(ge=0, le=200)] = 6.0
    threads: Annotated[int, msgspec.Meta(ge=1, le=8, description="onnxruntime threads for this camera")] = 1
    stall_s: Annotated[float, msgspec.Meta(ge=1, le=600)] = 10.0
    demographics: DemographicsConfig = msgspec.field(default_factory=DemographicsConfig)
    group_window_s: Annotated[GroupWindow, msgspec.Meta(
        description="customers crossing a line the same way within this many seconds (and group_distance) are one "
                    "group: groups_in/groups_out; 0: off")] = 0.0
    group_distance: BoxHeights = 1.5
    occupancy_empty_zone: Annotated[str | None, msgspec.Meta(
        description="a zone of this camera: empty for empty_reset_s resets store occupancy to 0")] = None
    empty_reset_s: Annotated[float, msgspec.Meta(ge=10, le=86400)] = 300.0
    children: Annotated[ChildrenConfig, msgspec.Meta(
        description="children (by apparent height) go to child_in/child_out, not in/out")] = \
        msgspec.field(default_factory=ChildrenConfig)

    def __post_init__(self) -> None:
        """A camera must count something; store occupancy needs lines and a known zone."""
        if not self.lines and not self.zones:
            raise ValueError("a camera needs at least one entry in lines or zones")
        if self.occupancy_empty_zone is not None and self.occupancy_empty_zone not in {z.name for z in self.zones}:
            raise ValueError(f"occupancy_empty_zone {self.occupancy_empty_zone!r} is not one of this camera's zones")
        if self.counts_store_occupancy and not self.lines:
            raise ValueError("store occupancy counts in - out: the camera needs at least one line")

    @property
    def counts_store_occupancy(self) -> bool:
        """True when store occupancy is on (asked for, or implied by one of its settings, the empty zone too)."""
        return super().counts_store_occupancy or self.occupancy_empty_zone is not None
