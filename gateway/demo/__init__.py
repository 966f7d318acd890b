"""`storegw demo`: a simulated store built from the same emulators technicians use.

Each device kind with a ``demo`` part (``gateway/devices/<kind>/demo.py``, declared in the kind's
``OPTIONAL_PARTS``) contributes its label, ``wanted(options)`` and

    async def setup(stack: contextlib.AsyncExitStack, workdir: pathlib.Path,
                    options: DemoOptions) -> list[dict]

which starts its emulators (registering their cleanup on ``stack``) and returns the
``[[devices]]`` entries, as TOML-shaped dicts, that point the real drivers at them.
A family whose device kind needs an extra that is not installed is left out, and the demo
says what to install for it (what each kind needs is declared in its own device folder).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.devices import KINDS, has_part, load_part
from gateway.devices.extras import missing_extra


@dataclass
class DemoOptions:
    """What the user asked of the demo."""

    seconds: float | None = None
    video: str | None = None
    speedup: float = 1.0


@dataclass(frozen=True)
class Family:
    """One device kind's part of the demo: the kind, its name for people, when it runs and how it starts."""

    kind: str
    label: str
    wanted: Callable[[DemoOptions], bool]
    setup: Callable[[contextlib.AsyncExitStack, Path, DemoOptions], Awaitable[list[dict[str, Any]]]]


def _family(kind: str) -> Family:
    """The demo part of ``kind``, from its ``gateway/devices/<kind>/demo.py`` (light: it imports emulators late)."""
    module = load_part(kind, "demo")
    return Family(kind, module.LABEL, module.wanted, module.setup)


# In registry order, which is the order the demo starts them: counters, RFID, BLE, camera.
FAMILIES: tuple[Family, ...] = tuple(_family(kind) for kind in KINDS if has_part(kind, "demo"))
# `storegw demo` says what a camera needs even when it runs without one.
CAMERA_FAMILY = next(family for family in FAMILIES if family.kind == "camera")


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
    """What to install (storegw[EXTRA]) before ``family`` can run; empty when nothing."""
    missing = missing_extra(family.kind)
    return [missing.install] if missing is not None else []


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
            setup.devices += await family.setup(stack, workdir, options)
        except ModuleNotFoundError as exc:  # one the kind's extra does not cover: a broken install
            setup.notes.append(f"{family.label}: not available ({exc.name} is not installed)")
        except Exception as exc:
            setup.notes.append(f"{family.label}: could not start ({exc})")
    return setup
