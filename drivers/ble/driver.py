"""One long-lived BLE scanner (bleak), restarted by a watchdog when adverts stop.

Duplicate filtering is off (BlueZ ``DuplicateData``) so repeated adverts measure dwell. BlueZ
can stop scanning silently after hours: no advert for ``watchdog_s`` restarts the scanner and
is counted. ``org.bluez.Error.InProgress`` and a lost adapter are retried with backoff. Any
bleak scanner backend can be passed in (``backend=``): the replay emulator, or a test's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from drivers.base import Backoff, Driver, DriverState, DriverStats
from drivers.ble.adverts import Advert

log = logging.getLogger("storegw.driver.ble")


class BLEDriver(Driver[Advert]):
    """Scans until cancelled, handing every advert to the sink."""

    kind = "ble"

    def __init__(self, device_id: str, *, adapter: str = "hci0", scanning_mode: str = "active",
                 watchdog_s: float = 60.0, backend: type | None = None, backend_kwargs: dict[str, Any] | None = None,
                 backoff: Backoff | None = None, stats: DriverStats | None = None) -> None:
        super().__init__(device_id, stats=stats, backoff=backoff or Backoff(initial=1.0, maximum=60.0))
        self.adapter = adapter
        self.scanning_mode = scanning_mode
        self.watchdog_s = watchdog_s
        self.backend = backend
        self.backend_kwargs = backend_kwargs or {}
        self.watchdog_restarts = 0
        self._last_advert = time.monotonic()

    def _scanner(self, callback: Callable[[Any, Any], None]) -> Any:
        """A bleak scanner configured for dwell measurement."""
        from bleak import BleakScanner

        bluez: dict[str, Any] = {"adapter": self.adapter}
        if self.scanning_mode == "active":
            bluez["filters"] = {"DuplicateData": True}
        else:
            # passive scanning needs at least one or_pattern (BlueZ >= 5.55, experimental): match
            # any advert that has flags, i.e. practically all of them
            from bleak.args.bluez import OrPattern
            from bleak.assigned_numbers import AdvertisementDataType

            bluez["or_patterns"] = [OrPattern(0, AdvertisementDataType.FLAGS, b"\x06"),
                                    OrPattern(0, AdvertisementDataType.FLAGS, b"\x1a")]
        kwargs: dict[str, Any] = dict(self.backend_kwargs)
        if self.backend is not None:
            kwargs["backend"] = self.backend
        return BleakScanner(callback, scanning_mode=self.scanning_mode, bluez=bluez, **kwargs)  # type: ignore[arg-type]

    async def run(self, sink: Callable[[Advert], None]) -> None:
        """Scan, watch, restart; forever."""
        def on_advert(device: Any, data: Any) -> None:
            """Convert a bleak advert and hand it over (loop thread)."""
            self._last_advert = time.monotonic()
            self.stats.mark_reading()
            sink(Advert(t=time.time(), address=device.address, rssi=int(data.rssi), name=data.local_name,
                        manufacturer_data=dict(data.manufacturer_data),
                        service_data={k.lower(): v for k, v in data.service_data.items()},
                        service_uuids=[u.lower() for u in data.service_uuids], tx_power=data.tx_power))

        first = True
        while not self.closed:
            try:
                # built inside the try: a backend may fail already here (e.g. a missing recording)
                scanner = self._scanner(on_advert)
                await scanner.start()
            except Exception as exc:
                text = f"{type(exc).__name__}: {exc}"
                kind = "in_progress" if "InProgress" in text else "adapter"
                await self.retry_later(kind, f"scanner did not start ({text})", then="; retrying")
                continue
            self.link_up(reconnected=not first)
            first = False
            self._last_advert = time.monotonic()
            try:
                await self._watch()
            finally:
                try:
                    await scanner.stop()
                except Exception as exc:
                    log.debug("%s: stop failed: %s", self.device_id, exc)
            self.stats.state = DriverState.RECONNECTING
            await self.backoff.sleep()

    async def _watch(self) -> None:
        """Return when no advert has come for watchdog_s."""
        while not self.closed:
            await asyncio.sleep(min(1.0, self.watchdog_s / 4))
            silent = time.monotonic() - self._last_advert
            if silent > self.watchdog_s:
                self.watchdog_restarts += 1
                self.stats.extra["watchdog_restarts"] = self.watchdog_restarts
                # counted and logged every time, not once per new message: each restart is news
                self.stats.count_error("watchdog", f"no advert for {silent:.1f} s; restarting the scan")
                log.warning("%s: no advert for %.1f s; restarting the scan", self.device_id, silent)
                return
            self.backoff.reset()
