"""A camera config's retail options -> the footfall pipeline's settings (groups, shop fronts, occupancy)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.devices.camera.config import CameraConfig, LineConfig
from gateway.devices.store_occupancy import occupancy_settings
from gateway.pipelines.groups import GroupSettings
from gateway.pipelines.occupancy import OccupancySettings
from gateway.pipelines.passersby import ShopFront
from gateway.vision.geometry import CountingLine, Zone


@dataclass
class RetailSettings:
    """The optional parts of FootfallSettings that a camera config turns on."""

    groups: dict[str, GroupSettings] = field(default_factory=dict)
    shop_fronts: dict[str, ShopFront] = field(default_factory=dict)
    occupancy: OccupancySettings | None = None


def _shop_front(line: LineConfig) -> ShopFront | None:
    """The line's outside line or zone and U-turn distance, if any is set."""
    outside = None
    if line.outside is not None:
        o = line.outside
        # an outside line has no inside; any point off it will do for the geometry
        mid, normal = ((o.x1 + o.x2) / 2, (o.y1 + o.y2) / 2), (o.y1 - o.y2, o.x2 - o.x1)
        outside = CountingLine(f"{line.name}:outside", (o.x1, o.y1), (o.x2, o.y2),
                               (mid[0] + normal[0], mid[1] + normal[1]))
    zone = None
    if line.outside_zone is not None:
        zone = Zone(f"{line.name}:outside", tuple((p[0], p[1]) for p in line.outside_zone))
    if outside is None and zone is None and line.u_turn_distance is None:
        return None
    return ShopFront(outside=outside, outside_zone=zone, u_turn_distance=line.u_turn_distance)


def retail_settings(cfg: CameraConfig) -> RetailSettings:
    """What the camera config asks for; the box's own time zone for the daily reset."""
    settings = RetailSettings()
    for line in cfg.lines:
        window = line.group_window_s if line.group_window_s is not None else cfg.group_window_s
        if window > 0:
            distance = line.group_distance if line.group_distance is not None else cfg.group_distance
            settings.groups[line.name] = GroupSettings(window_s=window, distance=distance)
        front = _shop_front(line)
        if front is not None:
            settings.shop_fronts[line.name] = front
    settings.occupancy = occupancy_settings(cfg)  # the same reading of the keys as a door counter's
    return settings
