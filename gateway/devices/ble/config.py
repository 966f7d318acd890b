"""Config of the BLE scanner (refined by the BLE issue)."""

from __future__ import annotations

from gateway.devices.base_config import DeviceConfig


class BLEConfig(DeviceConfig, tag="ble"):
    """A BLE adapter scanning for adverts."""

    adapter: str = "hci0"
