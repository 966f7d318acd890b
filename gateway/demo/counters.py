"""Demo: two doors, each with a people counter emulated on a pty (one ASCII, one Terabee)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from drivers.sim.serial_counter import SerialCounterEmulator
from gateway.demo import DemoOptions


async def setup(stack: contextlib.AsyncExitStack, workdir: Path, options: DemoOptions) -> list[dict[str, Any]]:
    """Start both emulators; return their device entries."""
    devices = []
    for door, protocol, rate in (("main-entrance", "ascii", 40.0), ("side-door", "terabee", 15.0)):
        emulator = SerialCounterEmulator(link=str(workdir / f"{door}.tty"), protocol=protocol,
                                         people_per_minute=rate).start()
        stack.callback(emulator.stop)
        devices.append({"id": f"{door}-counter", "kind": "serial_counter", "port": emulator.link,
                        "protocol": protocol, "door": door, "interval_s": 10.0})
    return devices
