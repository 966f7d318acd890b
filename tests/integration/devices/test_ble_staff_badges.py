"""Staff badges listed on a BLE scanner are never published, whether or not a camera checks them yet;
other beacons still are."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from drivers.ble.adverts import Advert, to_record
from drivers.ble.decoders import APPLE, encode_ibeacon
from gateway.devices.ble.config import BLEConfig
from gateway.devices.ble.runner import run_device
from gateway.devices.context import DeviceContext
from gateway.pipelines import Event

STAFF = "0c3f6a0e-8d5b-4c1e-9f4b-5a2d7e9c1b11"
SHELF = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


class Collect:
    """An event sink that keeps every event it is given."""

    def __init__(self) -> None:
        """Nothing yet."""
        self.events: list[Event] = []

    def commit_event(self, subject: str, event: Event) -> None:
        """Keep the event."""
        self.events.append(event)


def recording(path: Path) -> None:
    """A staff badge and a shelf beacon, both strong, twice a second for two minutes."""
    adverts = []
    for k in range(240):
        t = 1_763_800_000.0 + k / 2
        adverts.append(Advert(t=t, address="C0:FF:EE:00:00:09", rssi=-50,
                              manufacturer_data={APPLE: encode_ibeacon(STAFF, 1, 7)}))
        adverts.append(Advert(t=t, address="C0:FF:EE:00:00:0A", rssi=-50,
                              manufacturer_data={APPLE: encode_ibeacon(SHELF, 3, 4)}))
    path.write_text("".join(to_record(a) + "\n" for a in adverts))


async def test_a_listed_staff_badge_is_never_a_beacon_event(tmp_path: Path) -> None:
    """With no camera watching the scanner, the listed badge is still kept out; the shelf beacon is reported."""
    path = tmp_path / "adverts.jsonl"
    recording(path)
    cfg = msgspec.convert({"id": "door-ble", "kind": "ble", "replay": str(path), "replay_speed": 50,
                           "interval_s": 10, "min_dwell_s": 0, "staff_badge_uuids": [STAFF.upper()]}, BLEConfig)
    sink = Collect()
    ctx = DeviceContext(device_id=cfg.id, sink=sink, data_dir=str(tmp_path))
    task = asyncio.create_task(run_device(cfg, ctx))
    for _ in range(200):
        if any(e.type == "beacon" for e in sink.events):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    published = str([msgspec.to_builtins(e.data) for e in sink.events]).lower()
    assert SHELF in published, "the shelf beacon is reported"
    assert STAFF not in published, "the staff badge is not"
