"""Demo part of llrp: a reader with four antennas over a few hundred tagged items, some moving, some sold."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.demo import DemoOptions

LABEL = "RFID reader"


def wanted(options: DemoOptions) -> bool:
    """Every demo has an RFID reader."""
    return True


async def setup(stack: contextlib.AsyncExitStack, workdir: Path, options: DemoOptions) -> list[dict[str, Any]]:
    """Start the emulated reader; return its device entry."""
    # Imported here, so the demo can list this part without loading the emulator.
    from drivers.sim.llrp.population import Population
    from drivers.sim.llrp.reader import LLRPReaderEmulator

    emulator = await LLRPReaderEmulator(Population.generate(300, antennas=4, seed=4, exit_antenna=4), antennas=4,
                                        report_interval_s=1.0, churn_every_s=3.0, cross_read=0.1).start()
    stack.push_async_callback(emulator.stop)
    return [{"id": "reader-1", "kind": "llrp", "host": "127.0.0.1", "port": emulator.port,
             "antennas": [1, 2, 3, 4], "silence_timeout_s": 5.0, "cycle_s": 15.0, "departed_after_s": 20.0,
             "zones": {"1": "sales-floor", "2": "fitting-room", "3": "backroom", "4": "exit"},
             "exit_zones": ["exit"]}]
