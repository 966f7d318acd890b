"""Config of store occupancy, shared by serial counters and cameras (every device that counts a door).

Devices naming the same ``occupancy_name`` share one count (``gateway/devices/store_occupancy.py``); a camera
adds its own empty-zone keys (``camera/config.py``). ``config check`` refuses doors of one occupancy whose
reset time or limit differ (``gateway/config/load.py``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from gateway.devices.base_config import DeviceConfig

HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="local time, HH:MM")]


# a base of the device configs (msgspec structs take one base with fields): its keys follow id and enabled
class StoreOccupancyOptions(DeviceConfig, kw_only=True, forbid_unknown_fields=True):
    """Store occupancy from a device's ins and outs: off unless asked for or one of its settings is set."""

    store_occupancy: Annotated[bool, msgspec.Meta(
        description="count this device's in - out (a camera's: of all its lines) into the store occupancy "
                    "(on when any occupancy_* is set)")] = False
    occupancy_name: Annotated[str, msgspec.Meta(
        min_length=1, max_length=64,
        description="the store occupancy this device counts into: every device (counter or camera) naming the same "
                    "one shares one count (in by one door, out by another); their occupancy_reset_at and "
                    "occupancy_limit must agree, or be set on one only; the store-scope event's zone")] = "store"
    occupancy_reset_at: Annotated[HHMM | None, msgspec.Meta(
        description="reset store occupancy to 0 every day at this local time (closing)")] = None
    occupancy_limit: Annotated[Annotated[int, msgspec.Meta(ge=1)] | None, msgspec.Meta(
        description="alert (occupancy event, alert over/under) when store occupancy goes above it")] = None

    @property
    def counts_store_occupancy(self) -> bool:
        """True when store occupancy is on (asked for, or implied by one of its settings)."""
        return (self.store_occupancy or self.occupancy_reset_at is not None or self.occupancy_limit is not None
                or self.occupancy_name != "store")
