"""Demo part of ble: a generated scene (visitors, wall beacons, member apps, passers-by, a staff badge) replayed."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.demo import DemoOptions

LABEL = "BLE beacons"
SCANNER_ID = "ble-floor"
"""The door scanner the demo's main-entrance counter (and camera door line) asks about staff badges."""


def wanted(options: DemoOptions) -> bool:
    """Every demo has BLE beacons."""
    return True


async def setup(stack: contextlib.AsyncExitStack, workdir: Path, options: DemoOptions) -> list[dict[str, Any]]:
    """Write a busy 10-minute scene, replayed 10x faster, looping."""
    from drivers.sim.ble_scene import generate  # here: drivers.ble needs bleak, which the demo checks for first

    # a staff badge at the door every 150 s of the scene (15 s of the demo, the first after 7.5 s): main-entrance's
    # counter and the camera's door line check it, so staff figures show within the demo's first minute
    scene = generate(start=time.time(), minutes=10, visitors=25, passers_by=20, members=2, seed=7, max_gap_s=5,
                     staff_door_every_s=150.0)
    path = workdir / "ble-scene.jsonl"
    scene.write(str(path))
    key = workdir / "member.key"
    key.write_text("demo-member-key-shared-with-the-backend\n")
    return [{"id": SCANNER_ID, "kind": "ble", "replay": str(path), "replay_speed": 10.0, "replay_loop": True,
             "min_dwell_s": 10.0, "absence_s": 15.0, "interval_s": 60.0, "member_visits": True,
             "member_app_uuids": ["5a4bcfce-174e-4bac-a814-092e77f6b7e5"], "member_key_file": str(key)}]
