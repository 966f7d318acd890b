"""Config of serial people counters."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from gateway.devices.badge_config import CounterStaffConfig
from gateway.devices.occupancy_config import StoreOccupancyOptions


class SerialCounterConfig(StoreOccupancyOptions, tag="serial_counter"):
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
