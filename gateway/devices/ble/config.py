"""Config of the BLE scanner and its presence pipeline."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from gateway.devices.base_config import DeviceConfig

Uuid = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")]
Rssi = Annotated[int, msgspec.Meta(ge=-127, le=20)]


class BLEConfig(DeviceConfig, tag="ble"):
    """A BLE adapter scanning for adverts (or replaying a recording)."""

    adapter: Annotated[str, msgspec.Meta(description="BlueZ adapter, e.g. hci0")] = "hci0"
    scanning_mode: Literal["active", "passive"] = "active"
    watchdog_s: Annotated[float, msgspec.Meta(ge=5, le=3600, description="no advert this long: restart the scan")] \
        = 60.0
    enter_rssi: Rssi = -80
    exit_rssi: Rssi = -90
    absence_s: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 60.0
    min_dwell_s: Annotated[float, msgspec.Meta(ge=0, le=86400)] = 30.0
    interval_s: Annotated[float, msgspec.Meta(ge=10, le=86400)] = 300.0
    max_tracks: Annotated[int, msgspec.Meta(ge=100, le=1_000_000)] = 50_000
    member_visits: Annotated[bool, msgspec.Meta(description="report member-app beacons as opaque tokens")] = False
    member_app_uuids: list[Uuid] = msgspec.field(default_factory=list)
    member_key_file: Annotated[str, msgspec.Meta(description="file holding the secret shared with the backend "
                                                 "that keys member tokens")] = ""
    staff_badge_uuids: Annotated[list[Uuid], msgspec.Meta(description="beacon UUIDs of staff badges: never "
                                 "reported as beacons or visits (each one is a staff member), only handed to "
                                 "the cameras that check badges")] = msgspec.field(default_factory=list)
    replay: Annotated[str, msgspec.Meta(description="replay this recording instead of an adapter")] = ""
    replay_speed: Annotated[float, msgspec.Meta(gt=0, le=1000)] = 1.0
    replay_loop: bool = False

    def __post_init__(self) -> None:
        """Cross-key rules msgspec cannot express per key."""
        if self.exit_rssi > self.enter_rssi:
            raise ValueError("exit_rssi must be at or below enter_rssi (hysteresis)")
        if self.member_visits and not (self.member_app_uuids and self.member_key_file):
            raise ValueError("member_visits needs member_app_uuids and member_key_file")
