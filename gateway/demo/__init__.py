"""`storegw demo`: a simulated store built from the same emulators technicians use.

Each device family contributes one module here with

    async def setup(stack: contextlib.AsyncExitStack, workdir: pathlib.Path,
                    options: DemoOptions) -> list[dict]

which starts its emulators (registering their cleanup on ``stack``) and returns the
``[[devices]]`` entries, as TOML-shaped dicts, that point the real drivers at them.
A family whose device kinds need an extra that is not installed is left out, and the demo
says what to install for it (what each kind needs is declared in its own device folder).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.devices.extras import missing_extra


@dataclass
class DemoOptions:
    """What the user asked of the demo."""

    seconds: float | None = None
    video: str | None = None
    speedup: float = 1.0


def _always(options: DemoOptions) -> bool:
    """Every demo runs this family."""
    return True


def _with_video(options: DemoOptions) -> bool:
    """Only a demo given --video runs this family."""
    return bool(options.video)


@dataclass(frozen=True)
class Family:
    """One device family of the demo: its setup module, its name for people, the device kinds it runs."""

    module: str
    label: str
    kinds: tuple[str, ...]
    wanted: Callable[[DemoOptions], bool] = _always


# Families in the order the demo starts them; a module that is missing is skipped.
CAMERA_FAMILY = Family("gateway.demo.camera", "camera", ("camera",), wanted=_with_video)
FAMILIES = (
    Family("gateway.demo.counters", "people counters", ("serial_counter",)),
    Family("gateway.demo.rfid", "RFID reader", ("llrp",)),
    Family("gateway.demo.ble", "BLE beacons", ("ble",)),
    CAMERA_FAMILY,
)


@dataclass
class DemoSetup:
    """What the families started: device entries, notes on what went wrong, and what was left out."""

    devices: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    """e.g. "RFID reader (install storegw[rfid])", one per family whose extra is missing."""

    @property
    def not_included(self) -> str | None:
        """The one line saying what to install for the families left out, or None."""
        return f"not in this demo: {', '.join(self.left_out)}" if self.left_out else None


def lacking_installs(family: Family) -> list[str]:
    """What to install (storegw[EXTRA], once each) before ``family`` can run; empty when nothing."""
    installs: list[str] = []
    for kind in family.kinds:
        missing = missing_extra(kind)
        if missing is not None and missing.install not in installs:
            installs.append(missing.install)
    return installs


async def start_families(stack: contextlib.AsyncExitStack, workdir: Path, options: DemoOptions) -> DemoSetup:
    """Set up every family the options ask for and the installed extras allow."""
    setup = DemoSetup()
    for family in FAMILIES:
        if not family.wanted(options):
            continue
        installs = lacking_installs(family)
        if installs:
            setup.left_out.append(f"{family.label} (install {' and '.join(installs)})")
            continue
        try:
            module = importlib.import_module(family.module)
        except ModuleNotFoundError as exc:
            if exc.name == family.module:
                continue
            setup.notes.append(f"{family.label}: not available ({exc.name} is not installed)")
            continue
        try:
            setup.devices += await module.setup(stack, workdir, options)
        except Exception as exc:
            setup.notes.append(f"{family.label}: could not start ({exc})")
    return setup
