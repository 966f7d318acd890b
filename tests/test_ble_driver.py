"""The real BLE driver through bleak's `backend=` parameter: replay emulator, a stalling fake, InProgress."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from drivers.base import Backoff, DriverState
from drivers.ble import Advert, BLEDriver
from drivers.sim.ble_replay import ReplayScanner
from drivers.sim.ble_scene import generate


class StallingScanner(BaseBleakScanner):
    """Sends a few adverts per start, then goes silent, as BlueZ sometimes does; the first start fails."""

    starts = 0

    def __init__(self, callback: Any, service_uuids: Any, scanning_mode: str = "active", **kwargs: Any) -> None:
        super().__init__(callback, service_uuids)
        self.kwargs = kwargs
        StallingScanner.last_kwargs = kwargs  # type: ignore[attr-defined]
        StallingScanner.last_mode = scanning_mode  # type: ignore[attr-defined]

    async def start(self) -> None:
        StallingScanner.starts += 1
        if StallingScanner.starts == 1:
            raise BleakError("org.bluez.Error.InProgress")
        for i in range(3):
            data = AdvertisementData(local_name=None, manufacturer_data={}, service_data={}, service_uuids=[],
                                     tx_power=None, rssi=-60 - i, platform_data=())
            device = self.create_or_update_device("k", "AA:BB:CC:DD:EE:FF", None, None, data)
            self.call_detection_callbacks(device, data)

    async def stop(self) -> None:
        return None


def test_watchdog_restarts_a_silent_scanner_and_in_progress_is_retried() -> None:
    adverts: list[Advert] = []
    driver = BLEDriver("ble", watchdog_s=0.3, backend=StallingScanner, backoff=Backoff(initial=0.05, maximum=0.1))

    async def scenario() -> None:
        task = asyncio.create_task(driver.run(adverts.append))
        for _ in range(200):
            if driver.watchdog_restarts >= 2 and driver.stats.reconnects >= 2:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert driver.stats.errors["in_progress"] == 1
    assert driver.watchdog_restarts >= 2 and driver.stats.errors["watchdog"] >= 2
    assert driver.stats.reconnects >= 2
    assert len(adverts) >= 9 and adverts[0].rssi == -60
    bluez = StallingScanner.last_kwargs["bluez"]  # type: ignore[attr-defined]
    assert bluez == {"adapter": "hci0", "filters": {"DuplicateData": True}}, "duplicate filtering must be off"


def test_replay_backend_feeds_the_real_driver(tmp_path: Path) -> None:
    scene = generate(minutes=2, visitors=3, passers_by=2, members=0, seed=9, max_gap_s=2)
    recording = tmp_path / "scene.jsonl"
    scene.write(str(recording))
    adverts: list[Advert] = []
    driver = BLEDriver("ble", watchdog_s=30, backend=ReplayScanner,
                       backend_kwargs={"recording": str(recording), "speed": 200.0})

    async def scenario() -> None:
        task = asyncio.create_task(driver.run(adverts.append))
        for _ in range(200):
            if len(adverts) == len(scene.adverts):
                break
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert len(adverts) == len(scene.adverts)
    assert driver.stats.state in (DriverState.CONNECTED, DriverState.STOPPED)
    assert [a.address for a in adverts] == [a.address for a in scene.adverts]
    assert adverts[0].manufacturer_data == scene.adverts[0].manufacturer_data
