"""The device under test: real hardware named by STOREGW_HIL_*, or the emulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class ReaderUnderTest:
    """Where the reader is, and the emulator behind it when there is one."""

    host: str
    port: int
    emulator: Any = None
    """A ThreadedEmulator, or None on hardware."""

    def fault(self, action: str, *args: Any) -> None:
        """Run an emulator fault method (or set an attribute) on the emulator's own loop."""
        if self.emulator is None:
            pytest.skip("fault injection needs the emulator (STOREGW_HIL_LLRP names real hardware)")
        self.emulator.call(action, *args)
