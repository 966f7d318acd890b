"""Device drivers: each turns one device family into an async stream of typed readings.

Drivers import nothing from ``gateway``; they know devices, not events, MQTT or storage.
Driver modules are imported only when a device of that kind is configured (see ``load_driver``).
"""

from __future__ import annotations

import importlib
from typing import Any

# kind -> "module:Class"; imported lazily so a box without cv2 or bleak can run its counters.
DRIVERS: dict[str, str] = {
    "serial_counter": "drivers.serial_counter:SerialCounterDriver",
    "synthetic": "drivers.synthetic:SyntheticDriver",
    "llrp": "drivers.llrp:LLRPDriver",
    "ble": "drivers.ble:BLEDriver",
    "camera": "drivers.camera:CameraDriver",
}


def load_driver(kind: str) -> Any:
    """Import and return the driver class registered for ``kind``."""
    try:
        target = DRIVERS[kind]
    except KeyError:
        raise ValueError(f"no driver for device kind {kind!r}; known: {', '.join(sorted(DRIVERS))}") from None
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
