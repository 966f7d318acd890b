"""Idle serial people counters on ptys for daemon tests: the wire-protocol emulator, nobody walking until told."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Iterator

from drivers.sim.serial_counter import SerialCounterEmulator


@contextlib.contextmanager
def idle_counters(folder: pathlib.Path, *names: str, report_interval_s: float) -> Iterator[list[SerialCounterEmulator]]:
    """One emulator per name (pty link ``folder/name``, sensor ids 4711, 4712, ...), stopped on exit."""
    started: list[SerialCounterEmulator] = []
    try:
        for index, name in enumerate(names):
            started.append(SerialCounterEmulator(link=str(folder / name), people_per_minute=0,
                                                 report_interval_s=report_interval_s, sensor_id=4711 + index).start())
        yield started
    finally:
        for emulator in started:
            emulator.stop()
