"""Device protocol conformance: against the emulators by default, real hardware when named.

STOREGW_HIL_LLRP=host[:port] runs the LLRP tests against that reader; tests that need to inject
a fault into the reader (silence, dropped connection, fragmentation, malformed frames) only run
against the emulator and are skipped on hardware.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


from hil import ReaderUnderTest


@pytest.fixture
def llrp_reader() -> Iterator[ReaderUnderTest]:
    """A reader: the hardware named by STOREGW_HIL_LLRP, or an emulator on its own loop thread."""
    hil = os.environ.get("STOREGW_HIL_LLRP")
    if hil:
        host, _, port = hil.partition(":")
        yield ReaderUnderTest(host, int(port or 5084))
        return
    from drivers.sim.llrp.population import Population
    from drivers.sim.llrp.reader import LLRPReaderEmulator

    loop = asyncio.new_event_loop()
    emulator = LLRPReaderEmulator(Population.generate(200, antennas=4, seed=3), antennas=4, report_interval_s=0.2)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(emulator.start(), loop).result(5)
    yield ReaderUnderTest("127.0.0.1", emulator.port, emulator, loop)
    asyncio.run_coroutine_threadsafe(emulator.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
