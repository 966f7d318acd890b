"""Config of serial people counters."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from gateway.devices.base_config import DeviceConfig


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
