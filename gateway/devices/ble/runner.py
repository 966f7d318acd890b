"""Runs a BLE scanner: adverts -> presence pipeline -> visit, visitors, beacon, member-visit events."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from drivers.ble import Advert, BLEDriver
from gateway.config import read_secret
from gateway.devices.ble.config import BLEConfig
from gateway.devices.context import DeviceContext
from gateway.pipelines.presence import PresencePipeline, PresenceSettings


def presence_settings(cfg: BLEConfig, config_path: str | None = None) -> PresenceSettings:
    """Pipeline settings from the device config (reads the member key file when enabled)."""
    key = None
    if cfg.member_visits and cfg.member_key_file:
        key = read_secret(config_path or ".", cfg.member_key_file).encode()
    return PresenceSettings(enter_rssi=cfg.enter_rssi, exit_rssi=cfg.exit_rssi, absence_s=cfg.absence_s,
                            min_dwell_s=cfg.min_dwell_s, interval_s=cfg.interval_s, max_tracks=cfg.max_tracks,
                            member_uuids=frozenset(u.lower() for u in cfg.member_app_uuids),
                            member_key=key)


def build_driver(cfg: BLEConfig) -> BLEDriver:
    """The real driver, on the adapter or on the replay scanner."""
    backend: Any = None
    backend_kwargs: dict[str, Any] = {}
    if cfg.replay:
        from drivers.sim.ble_replay import ReplayScanner

        backend = ReplayScanner
        backend_kwargs = {"recording": cfg.replay, "speed": cfg.replay_speed, "loop": cfg.replay_loop}
    return BLEDriver(cfg.id, adapter=cfg.adapter, scanning_mode=cfg.scanning_mode, watchdog_s=cfg.watchdog_s,
                     backend=backend, backend_kwargs=backend_kwargs)


async def run_device(cfg: BLEConfig, ctx: DeviceContext) -> None:
    """Scan and report presence until cancelled."""
    driver = build_driver(cfg)
    driver.stats = ctx.stats
    pipeline = PresencePipeline(presence_settings(cfg, ctx.config_path))

    def on_advert(advert: Advert) -> None:
        """Run one advert through the presence pipeline; a malformed one is counted and skipped."""
        try:
            events = pipeline.feed(advert, advert.t)
        except (ValueError, TypeError, struct.error) as exc:
            # the message names the exception type only: its text could quote the advert's bytes
            ctx.stats.count_error("advert", f"malformed advert skipped ({type(exc).__name__})")
            return
        ctx.emit_all(events)

    async def ticker() -> None:
        """Close intervals and refresh health once a second."""
        while True:
            await asyncio.sleep(1.0)
            ctx.emit_all(pipeline.tick(ctx.clock()))
            ctx.stats.extra.update(tracks=len(pipeline.tracks), evicted=pipeline.stats.evicted,
                                   member_adverts_dropped=pipeline.stats.member_adverts_dropped)

    tick_task = asyncio.create_task(ticker())
    try:
        await driver.run(on_advert)
    finally:
        tick_task.cancel()
        driver.shutdown()
        ctx.emit_all(pipeline.close_all(ctx.clock()))
