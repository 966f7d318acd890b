"""Device protocol conformance: against the emulators by default, real hardware when named.

STOREGW_HIL_LLRP=host[:port] runs the LLRP tests against that reader; tests that need to inject
a fault into the reader (silence, dropped connection, fragmentation, malformed frames) only run
against the emulator and are skipped on hardware.
"""

from __future__ import annotations

import os
import sys
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

    running = LLRPReaderEmulator(Population.generate(200, antennas=4, seed=3), antennas=4,
                                 report_interval_s=0.2).start_in_thread()
    yield ReaderUnderTest("127.0.0.1", running.port, running)
    running.stop()
