"""The real BLE driver through bleak's `backend=` parameter: replay emulator, a stalling fake, InProgress."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

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


async def test_watchdog_restarts_a_silent_scanner_and_in_progress_is_retried() -> None:
    adverts: list[Advert] = []
    driver = BLEDriver("ble", watchdog_s=0.3, backend=StallingScanner, backoff=Backoff(initial=0.05, maximum=0.1))
    task = asyncio.create_task(driver.run(adverts.append))
    for _ in range(200):
        if driver.watchdog_restarts >= 2 and driver.stats.reconnects >= 2:
            break
        await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert driver.stats.errors["in_progress"] == 1
    assert driver.watchdog_restarts >= 2 and driver.stats.errors["watchdog"] >= 2
    assert driver.stats.reconnects >= 2
    assert len(adverts) >= 9 and adverts[0].rssi == -60
    bluez = StallingScanner.last_kwargs["bluez"]  # type: ignore[attr-defined]
    assert bluez == {"adapter": "hci0", "filters": {"DuplicateData": True}}, "duplicate filtering must be off"


async def test_replay_backend_feeds_the_real_driver(tmp_path: Path) -> None:
    scene = generate(minutes=2, visitors=3, passers_by=2, members=0, seed=9, max_gap_s=2)
    recording = tmp_path / "scene.jsonl"
    scene.write(str(recording))
    adverts: list[Advert] = []
    driver = BLEDriver("ble", watchdog_s=30, backend=ReplayScanner,
                       backend_kwargs={"recording": str(recording), "speed": 200.0})
    task = asyncio.create_task(driver.run(adverts.append))
    for _ in range(200):
        if len(adverts) == len(scene.adverts):
            break
        await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(adverts) == len(scene.adverts)
    assert driver.stats.state in (DriverState.CONNECTED, DriverState.STOPPED)
    assert [a.address for a in adverts] == [a.address for a in scene.adverts]
    assert adverts[0].manufacturer_data == scene.adverts[0].manufacturer_data


class LostAdapterScanner(BaseBleakScanner):
    """An adapter that is gone for the first two starts (unplugged dongle), then comes back."""

    starts = 0
    modes: ClassVar[list[str]] = []
    bluez_args: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, callback: Any, service_uuids: Any, scanning_mode: str = "active", **kwargs: Any) -> None:
        super().__init__(callback, service_uuids)
        LostAdapterScanner.modes.append(scanning_mode)
        LostAdapterScanner.bluez_args.append(kwargs.get("bluez", {}))

    async def start(self) -> None:
        """Fail like BlueZ with no such adapter, then deliver one advert."""
        LostAdapterScanner.starts += 1
        if LostAdapterScanner.starts <= 2:
            raise BleakError("adapter 'hci1' not found")
        data = AdvertisementData(local_name=None, manufacturer_data={}, service_data={}, service_uuids=[],
                                 tx_power=None, rssi=-55, platform_data=())
        device = self.create_or_update_device("k", "11:22:33:44:55:66", None, None, data)
        self.call_detection_callbacks(device, data)

    async def stop(self) -> None:
        return None


async def test_lost_adapter_is_retried_with_backoff_in_passive_mode_on_the_configured_adapter() -> None:
    """A missing adapter is counted and retried; passive mode and the adapter reach bleak."""
    adverts: list[Advert] = []
    driver = BLEDriver("ble", adapter="hci1", scanning_mode="passive", watchdog_s=30,
                       backend=LostAdapterScanner, backoff=Backoff(initial=0.02, maximum=0.05))
    task = asyncio.create_task(driver.run(adverts.append))
    for _ in range(200):
        if adverts:
            break
        await asyncio.sleep(0.02)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert driver.stats.errors["adapter"] == 2, "each failed start on a missing adapter is counted"
    assert "in_progress" not in driver.stats.errors
    assert [a.rssi for a in adverts] == [-55]
    assert driver.stats.state == DriverState.CONNECTED
    assert set(LostAdapterScanner.modes) == {"passive"}
    bluez = LostAdapterScanner.bluez_args[-1]
    assert bluez["adapter"] == "hci1"
    assert bluez["or_patterns"], "passive scanning on BlueZ needs or_patterns"
    assert "filters" not in bluez


async def test_a_backend_that_fails_when_built_is_retried_not_fatal(tmp_path: Path) -> None:
    """A missing recording (the backend raises in its constructor) is counted and retried until it appears."""
    recording = tmp_path / "later.jsonl"
    scene = generate(minutes=1, visitors=1, passers_by=0, members=0, seed=2)
    adverts: list[Advert] = []
    driver = BLEDriver("ble", watchdog_s=30, backend=ReplayScanner,
                       backend_kwargs={"recording": str(recording), "speed": 1000.0},
                       backoff=Backoff(initial=0.02, maximum=0.05))
    task = asyncio.create_task(driver.run(adverts.append))
    for _ in range(200):
        if driver.stats.errors.get("adapter", 0) >= 2:
            break
        await asyncio.sleep(0.02)
    assert not task.done(), "the driver must survive a backend that cannot be built"
    scene.write(str(recording))
    for _ in range(500):
        if adverts:
            break
        await asyncio.sleep(0.02)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert driver.stats.errors["adapter"] >= 2
    assert adverts, "once the recording exists the same driver plays it"
