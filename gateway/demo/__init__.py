"""`storegw demo`: a simulated store built from the same emulators technicians use.

Each device family contributes one module here with

    async def setup(stack: contextlib.AsyncExitStack, workdir: pathlib.Path,
                    options: DemoOptions) -> list[dict]

which starts its emulators (registering their cleanup on ``stack``) and returns the
``[[devices]]`` entries, as TOML-shaped dicts, that point the real drivers at them.
"""

from __future__ import annotations

from dataclasses import dataclass

# Families in the order the demo starts them; a module that is missing is skipped.
FAMILIES = ("gateway.demo.counters", "gateway.demo.rfid", "gateway.demo.ble", "gateway.demo.camera")


@dataclass
class DemoOptions:
    """What the user asked of the demo."""

    seconds: float | None = None
    video: str | None = None
    speedup: float = 1.0
