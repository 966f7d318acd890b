"""Runs a BLE scanner: adverts -> presence pipeline -> visit, visitors, beacon, member-visit events."""

from __future__ import annotations

import struct
from typing import Any

from drivers.base import DriverStats
from drivers.ble import Advert, BLEDriver
from gateway.config import read_secret
from gateway.devices.ble.config import BLEConfig
from gateway.devices.context import DeviceContext
from gateway.devices.signals import badge_uuid, post_advert
from gateway.devices.stream import run_stream
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


def build_driver(cfg: BLEConfig, stats: DriverStats | None = None) -> BLEDriver:
    """The real driver, on the adapter or on the replay scanner, counting into ``stats``."""
    backend: Any = None
    backend_kwargs: dict[str, Any] = {}
    if cfg.replay:
        from drivers.sim.ble_replay import ReplayScanner

        backend = ReplayScanner
        backend_kwargs = {"recording": cfg.replay, "speed": cfg.replay_speed, "loop": cfg.replay_loop}
    return BLEDriver(cfg.id, adapter=cfg.adapter, scanning_mode=cfg.scanning_mode, watchdog_s=cfg.watchdog_s,
                     backend=backend, backend_kwargs=backend_kwargs, stats=stats)


async def run_device(cfg: BLEConfig, ctx: DeviceContext) -> None:
    """Scan and report presence until cancelled."""
    driver = build_driver(cfg, ctx.stats)
    pipeline = PresencePipeline(presence_settings(cfg, ctx.config_path))
    staff_badges = frozenset(uuid.lower() for uuid in cfg.staff_badge_uuids)

    def on_advert(advert: Advert) -> None:
        """Hand staff badges to the cameras, then run the advert through the presence pipeline."""
        try:
            if post_advert(cfg.id, advert):
                return  # a staff badge a camera watches: not a beacon to publish (its major/minor is one person)
            if staff_badges and badge_uuid(advert) in staff_badges:
                return  # a staff badge no camera watches (yet): still one person, never published
            events = pipeline.feed(advert, advert.t)
        except (ValueError, TypeError, struct.error) as exc:
            # the message names the exception type only: its text could quote the advert's bytes
            ctx.stats.count_error("advert", f"malformed advert skipped ({type(exc).__name__})")
            return
        ctx.emit_all(events)

    def tick(now: float) -> None:
        """Close intervals and refresh health."""
        ctx.emit_all(pipeline.tick(now))
        ctx.stats.extra.update(tracks=len(pipeline.tracks), evicted=pipeline.stats.evicted,
                               member_adverts_dropped=pipeline.stats.member_adverts_dropped)

    def flush(now: float) -> None:
        """End every open visit: the scanner is gone."""
        ctx.emit_all(pipeline.close_all(now))

    await run_stream(driver, ctx, on_advert, tick=tick, flush=flush)
