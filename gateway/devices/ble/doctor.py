"""`storegw doctor` for a BLE scanner: its adapter is present (a replay needs none)."""

from __future__ import annotations

import os

from gateway.check import FAIL, OK, Check
from gateway.devices.ble.config import BLEConfig


def check(device: BLEConfig, name: str) -> Check:
    """The BlueZ adapter named in the config exists, unless the device replays a recording."""
    if device.replay:
        return Check(name, OK, "replaying a recording")
    adapter = device.adapter
    if not os.path.exists(f"/sys/class/bluetooth/{adapter}"):
        return Check(name, FAIL, f"no Bluetooth adapter {adapter}; check `bluetoothctl list` and the adapter key")
    return Check(name, OK, f"adapter {adapter} present")
