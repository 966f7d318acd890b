"""`storegw sim ...`: start a device emulator for technicians and the demo.

Each module here mirrors an emulator in ``drivers/sim/`` and is named after the device kind it
emulates (``serial_counter.py``, ``llrp.py``, ``ble.py``), with ``register(sim_subparsers)``.
They are found in this folder and ordered by the device registry, so adding one is adding its
file; they import their emulator only when run, so registering them all costs nothing.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from types import ModuleType

from gateway.devices import KINDS


def emulator_commands() -> list[ModuleType]:
    """Every module of this folder, in registry order; one named after no device kind is an error, never skipped."""
    names = {info.name for info in pkgutil.iter_modules(__path__)}
    strangers = sorted(names - set(KINDS))
    if strangers:
        raise RuntimeError(f"gateway/cli/sim/{strangers[0]}.py is named after no device kind "
                           f"(known: {', '.join(KINDS)}); name an emulator command after the kind it emulates")
    return [importlib.import_module(f"{__name__}.{kind}") for kind in KINDS if kind in names]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sim` verb and every emulator under it."""
    parser = subparsers.add_parser("sim", help="run a device emulator (serial counter, LLRP reader, BLE scene)")
    emulators = parser.add_subparsers(dest="sim_verb", metavar="EMULATOR", required=True)
    for command in emulator_commands():
        command.register(emulators)
