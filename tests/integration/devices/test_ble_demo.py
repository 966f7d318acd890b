"""The demo's BLE store: its generated scene, replayed through the real driver and runner, shows visits."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import msgspec

from drivers.base import DriverState
from drivers.sim.ble_replay import load_recording
from gateway.demo import DemoOptions
from gateway.devices.ble.config import BLEConfig
from gateway.devices.ble.demo import setup
from gateway.devices.ble.runner import run_device
from gateway.devices.context import DeviceContext
from gateway.pipelines import Event


class Collect:
    """An event sink that keeps every event it is given."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def commit_event(self, subject: str, event: Event) -> None:
        """Keep the event."""
        self.events.append(event)


async def test_demo_ble_device_emits_visits_and_beacons_without_an_adapter(tmp_path: Path) -> None:
    """The demo's [[devices]] entry is a valid ble config and the real runner turns its scene into visits."""
    sink = Collect()
    events = sink.events
    async with contextlib.AsyncExitStack() as stack:
        (entry,) = await setup(stack, tmp_path, DemoOptions())
        cfg = msgspec.convert(entry, BLEConfig)
        ctx = DeviceContext(device_id=cfg.id, sink=sink, data_dir=str(tmp_path))
        task = asyncio.create_task(run_device(cfg, ctx))
        for _ in range(300):
            types = {e.type for e in events}
            if {"visit", "beacon"} <= types:
                break
            await asyncio.sleep(0.1)
        assert ctx.stats.state == DriverState.CONNECTED and ctx.stats.readings > 0
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    types = {e.type for e in events}
    assert {"visit", "beacon"} <= types, types
    addresses = {a.address.lower() for a in load_recording(cfg.replay)}
    published = str([msgspec.to_builtins(e.data) for e in events]).lower()
    assert not [a for a in addresses if a in published], "no address in any event"
    enters = [e.data for e in events if e.type == "visit" and e.data.action == "enter"]
    assert enters and all(len(v.visitor) == 16 for v in enters)
