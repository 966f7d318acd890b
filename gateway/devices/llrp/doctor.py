"""`storegw doctor` for an LLRP reader: it accepts a TCP connection."""

from __future__ import annotations

import socket

from gateway.check import FAIL, OK, Check
from gateway.devices.llrp.config import LLRPConfig


def check(device: LLRPConfig, name: str) -> Check:
    """The reader's LLRP port accepts a connection within 5 s."""
    try:
        with socket.create_connection((device.host, device.port), timeout=5):
            return Check(name, OK, f"{device.host}:{device.port} accepts connections")
    except OSError as exc:
        return Check(name, FAIL, f"{device.host}:{device.port} unreachable ({exc.strerror or exc}); check the "
                     "reader's power, network and that no other client holds it")
