"""The demo's BLE store: its generated scene, replayed through the real driver and runner, shows visits."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import msgspec

from drivers.base import DriverState
from drivers.sim.ble_replay import load_recording
from gateway.demo import DemoOptions
from gateway.demo.ble import setup
from gateway.devices.ble.config import BLEConfig
from gateway.devices.ble.runner import run_device
from gateway.devices.context import DeviceContext
from gateway.pipelines import Event


def test_demo_ble_device_emits_visits_and_beacons_without_an_adapter(tmp_path: Path) -> None:
    """The demo's [[devices]] entry is a valid ble config and the real runner turns its scene into visits."""
    events: list[Event] = []

    async def scenario() -> BLEConfig:
        """Set the demo up, run the device until a visit and a beacon came out, stop it."""
        async with contextlib.AsyncExitStack() as stack:
            (entry,) = await setup(stack, tmp_path, DemoOptions())
            cfg = msgspec.convert(entry, BLEConfig)
            ctx = DeviceContext(device_id=cfg.id, emit_event=lambda _subject, event: events.append(event),
                                data_dir=str(tmp_path))
            task = asyncio.create_task(run_device(cfg, ctx))
            for _ in range(300):
                types = {e.type for e in events}
                if {"visit", "beacon"} <= types:
                    break
                await asyncio.sleep(0.1)
            assert ctx.stats.state == DriverState.CONNECTED and ctx.stats.readings > 0
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return cfg

    cfg = asyncio.run(scenario())
    types = {e.type for e in events}
    assert {"visit", "beacon"} <= types, types
    addresses = {a.address.lower() for a in load_recording(cfg.replay)}
    published = str([msgspec.to_builtins(e.data) for e in events]).lower()
    assert not [a for a in addresses if a in published], "no address in any event"
    enters = [e.data for e in events if e.type == "visit" and e.data.action == "enter"]
    assert enters and all(len(v.visitor) == 16 for v in enters)
