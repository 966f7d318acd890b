"""Demo part of serial_counter: two doors, each with a people counter emulated on a pty (one ASCII, one Terabee).

A third counter across the pavement outside main-entrance is its shop front (passers-by, capture rate);
main-entrance's people arrive in small groups (groups) and staff badges of the BLE scene pass it (staff).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.demo import DemoOptions

LABEL = "people counters"
FRONT_ID = "shop-front-counter"
"""The counter outside main-entrance whose people are its passers-by."""


def wanted(options: DemoOptions) -> bool:
    """Every demo has people counters."""
    return True


async def setup(stack: contextlib.AsyncExitStack, workdir: Path, options: DemoOptions) -> list[dict[str, Any]]:
    """Start the three emulators; return their device entries."""
    from drivers.sim.serial_counter import SerialCounterEmulator  # here, so the demo can list this part cheaply

    devices = []
    # main-entrance: groups of 1-3 (a group every 1.5-4.5 s), reported twice a second, so a group is one reading
    # and two groups are at least three readings apart: group_window_s = 1 tells them apart
    for door, protocol, rate, group, report_s in (("main-entrance", "ascii", 40.0, 3, 0.5),
                                                  ("side-door", "terabee", 15.0, 1, 1.0)):
        emulator = SerialCounterEmulator(link=str(workdir / f"{door}.tty"), protocol=protocol,
                                         people_per_minute=rate, max_group_size=group,
                                         report_interval_s=report_s).start()
        stack.callback(emulator.stop)
        device: dict[str, Any] = {"id": f"{door}-counter", "kind": "serial_counter", "port": emulator.link,
                                  "protocol": protocol, "door": door, "interval_s": 10.0}
        # both doors count the one store occupancy (in by one, out by the other); one sets the limit for both
        device.update(store_occupancy=True)
        if door == "main-entrance":
            device.update(occupancy_limit=25, **_retail())  # the store's limit, and this door's retail figures
        devices.append(device)
    # the pavement outside main-entrance, busier than the door: people either way are passers-by; its own
    # footfall events stay, and it counts no store occupancy (nobody enters the store there)
    front = SerialCounterEmulator(link=str(workdir / "shop-front.tty"), protocol="ascii",
                                  people_per_minute=150.0).start()
    stack.callback(front.stop)
    devices.append({"id": FRONT_ID, "kind": "serial_counter", "port": front.link, "protocol": "ascii",
                    "door": "main-entrance-front", "interval_s": 10.0})
    return devices


def _retail() -> dict[str, Any]:
    """main-entrance's retail figures: groups, the shop front and, with the BLE scanner there, staff badges."""
    from gateway.devices.extras import missing_extra

    retail: dict[str, Any] = {"group_window_s": 1.0, "shop_front": FRONT_ID}
    if missing_extra("ble") is None:  # without it there is no door scanner to name (config check refuses one)
        from drivers.sim.ble_scene import STAFF_BADGE_UUID
        from gateway.devices.ble.demo import SCANNER_ID

        retail["staff"] = {"badge_uuid": STAFF_BADGE_UUID, "badge_scanner": SCANNER_ID, "badge_rssi_min": -70,
                           "badge_window_s": 2.0}
    return retail
