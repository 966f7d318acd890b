"""The skeleton every streaming device integration shares: readings in, a ticker, a clean stop.

A streaming device pushes readings (tag reads, counter reports, adverts) as they come; its
pipeline also needs the clock to close intervals when nothing comes. ``run_stream`` runs the
driver into ``on_reading``, calls ``tick(now)`` every ``tick_s`` and, however the driver ends
(returned, raised or cancelled), stops the ticker, shuts the driver down and only then calls
``flush(now)``, so the last events are made after the device is released.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from drivers.base import Driver
from gateway.devices.context import DeviceContext

R = TypeVar("R")


async def run_stream(driver: Driver[R], ctx: DeviceContext, on_reading: Callable[[R], None],
                     tick: Callable[[float], None] | None = None, flush: Callable[[float], None] | None = None,
                     tick_s: float = 1.0) -> None:
    """Run ``driver`` into ``on_reading`` until it ends or is cancelled; see the module docstring."""
    ticker = asyncio.create_task(_tick_forever(ctx, tick, tick_s)) if tick is not None else None
    try:
        await driver.run(on_reading)
    finally:
        if ticker is not None:
            ticker.cancel()
        driver.shutdown()
        if flush is not None:
            flush(ctx.clock())


async def _tick_forever(ctx: DeviceContext, tick: Callable[[float], None], tick_s: float) -> None:
    """Call ``tick`` with the context's clock every ``tick_s`` until cancelled."""
    while True:
        await asyncio.sleep(tick_s)
        tick(ctx.clock())
