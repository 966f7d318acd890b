"""`storegw sim ...`: start a device emulator for technicians and the demo."""

from __future__ import annotations

import argparse
import importlib

# One module per emulator family, each with register(sim_subparsers).
SIM_MODULES = ("gateway.cli.sim_serial", "gateway.cli.sim_llrp", "gateway.cli.sim_ble")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sim` verb and every emulator under it."""
    parser = subparsers.add_parser("sim", help="run a device emulator (serial counter, LLRP reader, BLE scene)")
    emulators = parser.add_subparsers(dest="sim_verb", metavar="EMULATOR", required=True)
    for name in SIM_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(emulators)
