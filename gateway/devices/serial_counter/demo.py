"""Demo part of serial_counter: two doors, each with a people counter emulated on a pty (one ASCII, one Terabee)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.demo import DemoOptions

LABEL = "people counters"


def wanted(options: DemoOptions) -> bool:
    """Every demo has people counters."""
    return True


async def setup(stack: contextlib.AsyncExitStack, workdir: Path, options: DemoOptions) -> list[dict[str, Any]]:
    """Start both emulators; return their device entries."""
    from drivers.sim.serial_counter import SerialCounterEmulator  # here, so the demo can list this part cheaply

    devices = []
    for door, protocol, rate in (("main-entrance", "ascii", 40.0), ("side-door", "terabee", 15.0)):
        emulator = SerialCounterEmulator(link=str(workdir / f"{door}.tty"), protocol=protocol,
                                         people_per_minute=rate).start()
        stack.callback(emulator.stop)
        device: dict[str, Any] = {"id": f"{door}-counter", "kind": "serial_counter", "port": emulator.link,
                                  "protocol": protocol, "door": door, "interval_s": 10.0}
        if door == "main-entrance":
            # a counter cannot tell staff or groups apart; what it adds is the store's occupancy and its limit
            device.update(store_occupancy=True, occupancy_limit=25)
        devices.append(device)
    return devices
