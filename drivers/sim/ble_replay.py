"""A bleak scanner backend that replays a recording: BLE without an adapter, through the real driver.

`BleakScanner(callback, backend=ReplayScanner, recording=PATH, speed=10.0, loop=True)` feeds the
adverts of a JSON-lines recording (the format of `storegw ble scan --record`) to the callback
with their recorded spacing divided by ``speed``; with ``loop`` the recording starts over.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from drivers.ble.adverts import Advert, from_record


def load_recording(path: str) -> list[Advert]:
    """Every advert of a recording, in time order; a bad line names its number."""
    adverts = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    adverts.append(from_record(line))
                except ValueError as exc:
                    raise ValueError(f"{path}:{number}: {exc}") from None
    adverts.sort(key=lambda a: a.t)
    return adverts


class ReplayScanner(BaseBleakScanner):
    """Plays a recording as if an adapter were receiving it."""

    def __init__(self, detection_callback: Any, service_uuids: Any, scanning_mode: str = "active", *,
                 recording: str, speed: float = 1.0, loop: bool = False, **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        self.adverts = load_recording(recording)
        self.speed = speed
        self.loop = loop
        self._task: asyncio.Task[None] | None = None
        self.finished = asyncio.Event()

    async def start(self) -> None:
        """Start playing."""
        self.seen_devices = {}
        self._task = asyncio.create_task(self._play())

    async def stop(self) -> None:
        """Stop playing."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _play(self) -> None:
        """Deliver each advert at its (scaled) time."""
        while True:
            if not self.adverts:
                break
            start = asyncio.get_running_loop().time()
            t0 = self.adverts[0].t
            for advert in self.adverts:
                delay = start + (advert.t - t0) / self.speed - asyncio.get_running_loop().time()
                if delay > 0:
                    await asyncio.sleep(delay)
                data = AdvertisementData(local_name=advert.name, manufacturer_data=advert.manufacturer_data,
                                         service_data=advert.service_data, service_uuids=advert.service_uuids,
                                         tx_power=advert.tx_power, rssi=advert.rssi, platform_data=())
                device = self.create_or_update_device(advert.address, advert.address, advert.name, None, data)
                self.call_detection_callbacks(device, data)
            if not self.loop:
                break
        self.finished.set()
