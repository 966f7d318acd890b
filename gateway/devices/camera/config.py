"""Config of cameras: source, counting lines, zones, rates."""

from __future__ import annotations

from typing import Annotated

import msgspec

from gateway.devices.base_config import DeviceConfig

Coord = Annotated[float, msgspec.Meta(ge=0, le=100_000)]


class LineConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A counting line in image pixels; `inside` is a point on the store side."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    x1: Coord
    y1: Coord
    x2: Coord
    y2: Coord
    inside: Annotated[list[Coord], msgspec.Meta(min_length=2, max_length=2)]


class ZoneConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A polygon (at least 3 [x, y] points) for occupancy and dwell."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    polygon: Annotated[list[Annotated[list[Coord], msgspec.Meta(min_length=2, max_length=2)]],
                       msgspec.Meta(min_length=3)]


class DemographicsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Anonymous age band and gender aggregates; off until enabled."""

    enabled: bool = False
    k: Annotated[int, msgspec.Meta(ge=2, le=1000, description="cells under k people are suppressed")] = 10
    interval_s: Annotated[float, msgspec.Meta(ge=60, le=86400)] = 900.0
    min_confidence: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.6


class CameraConfig(DeviceConfig, tag="camera"):
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

    def __post_init__(self) -> None:
        """A camera must count something."""
        if not self.lines and not self.zones:
            raise ValueError("a camera needs at least one entry in lines or zones")
