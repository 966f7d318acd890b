"""`storegw doctor` for a serial people counter: its port is there and ours to open."""

from __future__ import annotations

import os

from gateway.check import FAIL, OK, Check
from gateway.devices.serial_counter.config import SerialCounterConfig


def check(device: SerialCounterConfig, name: str) -> Check:
    """The device path exists and the storegw user may read and write it (a URL is left to the daemon)."""
    port = device.port
    if "://" in port:
        return Check(name, OK, f"{port} (URL; opened by the daemon)")
    if not os.path.exists(port):
        return Check(name, FAIL, f"{port} does not exist; plug the counter in or fix `port` (ls /dev/serial/by-id)")
    if not os.access(port, os.R_OK | os.W_OK):
        return Check(name, FAIL, f"no access to {port}; add the storegw user to the dialout group")
    return Check(name, OK, f"{port} present and accessible")
