"""Config of LLRP RFID readers (refined by the RFID issue)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from gateway.devices.base_config import DeviceConfig


class LLRPConfig(DeviceConfig, tag="llrp"):
    """An LLRP reader reached over TCP."""

    host: str
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 5084
