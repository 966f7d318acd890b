"""Runs a synthetic device: one `synthetic` event per reading."""

from __future__ import annotations

from drivers.synthetic import SyntheticDriver, SyntheticReading
from gateway.devices.context import DeviceContext
from gateway.devices.stream import run_stream
from gateway.devices.synthetic.config import SyntheticConfig
from gateway.events.types.synthetic import SyntheticData
from gateway.pipelines import Event


async def run_device(cfg: SyntheticConfig, ctx: DeviceContext) -> None:
    """Emit `rate` events per second until cancelled."""
    driver = SyntheticDriver(cfg.id, cfg.rate, stats=ctx.stats)
    filler = "x" * cfg.payload_bytes

    def on_reading(reading: SyntheticReading) -> None:
        """Emit one synthetic event."""
        ctx.emit(Event("synthetic", reading.time, SyntheticData(n=reading.n, filler=filler)))

    await run_stream(driver, ctx, on_reading)
