"""A bleak scanner backend that replays a recording: BLE without an adapter, through the real driver.

`BleakScanner(callback, backend=ReplayScanner, recording=PATH, speed=10.0, loop=True)` feeds the
adverts of a JSON-lines recording (the format of `storegw ble scan --record`) to the callback
with their recorded spacing divided by ``speed``; with ``loop`` the recording starts over.

A line whose timestamp is absurd (not finite, too large for a float, before 1970 or from 2100
on: a broken clock or a corrupt line) is garbage: it is counted and skipped, never replayed,
since one such time would stretch the replay over centuries. A line that is not an advert record
at all is an error that names its line number (the file is probably not a recording).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass, field
from typing import Any

from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from drivers.ble.adverts import Advert, from_record

MIN_T = 0.0
MAX_T = 4_102_444_800.0
"""2100-01-01T00:00:00Z: a recording's timestamps are epoch seconds in [MIN_T, MAX_T)."""


def sane_time(t: float) -> bool:
    """True when ``t`` is a plausible epoch time for a recorded advert."""
    return math.isfinite(t) and MIN_T <= t < MAX_T


@dataclass
class Recording:
    """The adverts of a recording in time order, and the garbage lines skipped."""

    adverts: list[Advert]
    skipped: int = 0
    skipped_lines: list[int] = field(default_factory=list)
    """Line numbers of the first skipped lines (at most ten), for the summary."""


def read_recording(path: str) -> Recording:
    """Every advert of a recording, in time order; absurd timestamps skipped and counted."""
    recording = Recording([])
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    advert: Advert | None = from_record(line)
                except OverflowError:
                    advert = None  # a number beyond a float (t = 1e400 written as an integer): absurd
                except RecursionError:
                    raise ValueError(f"{path}:{number}: not an advert record (nested too deeply)") from None
                except ValueError as exc:
                    raise ValueError(f"{path}:{number}: {exc}") from None
                if advert is None or not sane_time(advert.t):
                    recording.skipped += 1
                    if len(recording.skipped_lines) < 10:
                        recording.skipped_lines.append(number)
                    continue
                recording.adverts.append(advert)
    recording.adverts.sort(key=lambda a: a.t)
    return recording


def load_recording(path: str) -> list[Advert]:
    """Every replayable advert of a recording, in time order; a bad line names its number."""
    return read_recording(path).adverts


class ReplayScanner(BaseBleakScanner):
    """Plays a recording as if an adapter were receiving it."""

    def __init__(self, detection_callback: Any, service_uuids: Any, scanning_mode: str = "active", *,
                 recording: str, speed: float = 1.0, loop: bool = False, **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        loaded = read_recording(recording)
        self.adverts = loaded.adverts
        self.skipped = loaded.skipped
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
