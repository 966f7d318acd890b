"""A device that produces `rate` readings per second, for load tests and benchmarks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import Driver, DriverState, DriverStats


@dataclass(slots=True)
class SyntheticReading:
    """One synthetic reading: its number since the driver started and when it was made."""

    n: int
    time: float


class SyntheticDriver(Driver[SyntheticReading]):
    """Paces readings against the monotonic clock, in batches, so thousands a second stay cheap."""

    kind = "synthetic"

    def __init__(self, device_id: str, rate: float, *, stats: DriverStats | None = None) -> None:
        super().__init__(device_id, stats=stats)
        self.rate = rate

    async def run(self, sink: Callable[[SyntheticReading], None]) -> None:
        """Emit readings at `rate` per second until cancelled."""
        self.stats.state = DriverState.CONNECTED
        tick = max(0.01, min(1.0, 50 / self.rate))  # about 50 readings per wake-up at high rates
        start = time.monotonic()
        produced = 0
        while not self.closed:
            due = int((time.monotonic() - start) * self.rate)
            now = time.time()
            count = due - produced
            for _ in range(count):
                sink(SyntheticReading(produced, now))
                produced += 1
            if count:
                self.stats.mark_reading(count)
            await asyncio.sleep(tick)
