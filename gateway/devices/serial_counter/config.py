"""Config of serial people counters."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from gateway.devices.badge_config import CounterStaffConfig
from gateway.devices.base_config import DeviceConfig

HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="local time, HH:MM")]


class SerialCounterConfig(DeviceConfig, tag="serial_counter"):
    """A people counter on a serial port (device path, pty or any pyserial URL)."""

    port: Annotated[str, msgspec.Meta(description="/dev/ttyUSB0, a pty, socket://host:port, loop://")]
    protocol: Literal["ascii", "terabee"] = "ascii"
    baudrate: Annotated[int, msgspec.Meta(gt=0)] = 115200
    door: Annotated[str, msgspec.Meta(description="door/line name used in footfall events")] = ""
    interval_s: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 60.0
    read_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0
    unplug_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600,
                                description="no byte for this long = device gone; reopen")] = 10.0
    counter_bits: Annotated[int, msgspec.Meta(ge=8, le=64, description="width of the device counter")] = 16
    # retail figures (all off unless set); a beam counter cannot see a U-turn, so it has no u_turns
    staff: Annotated[CounterStaffConfig | None, msgspec.Meta(
        description="staff badges heard by a BLE door scanner near a reading: those people go to "
                    "staff_in/staff_out, not in/out")] = None
    group_window_s: Annotated[float, msgspec.Meta(
        ge=0, le=30, description="customers crossing the same way with gaps of at most this many seconds are one "
                                 "group (by time only: several people in one reading are one group when the "
                                 "reading spans at most this): groups_in/groups_out; 0: off")] = 0.0
    shop_front: Annotated[str, msgspec.Meta(
        description="id of another serial counter across the shop front outside: its people both ways are this "
                    "door's passers_by, and capture_rate = in / passers_by (left out when it did not report "
                    "over the whole interval)")] = ""
    store_occupancy: Annotated[bool, msgspec.Meta(
        description="count this door's in - out into the store occupancy (on when any occupancy_* is set)")] = False
    occupancy_name: Annotated[str, msgspec.Meta(
        min_length=1, max_length=64,
        description="the store occupancy this door counts into: every device (counter or camera) naming the same "
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
