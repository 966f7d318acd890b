"""The device under test: real hardware named by STOREGW_HIL_*, or the emulator."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class ReaderUnderTest:
    """Where the reader is, and the emulator behind it when there is one."""

    host: str
    port: int
    emulator: Any = None
    loop: asyncio.AbstractEventLoop | None = None

    def fault(self, action: str, *args: Any) -> None:
        """Run an emulator fault method on the emulator's own loop."""
        if self.emulator is None:
            pytest.skip("fault injection needs the emulator (STOREGW_HIL_LLRP names real hardware)")
        assert self.loop is not None
        done = threading.Event()

        def call() -> None:
            attribute = getattr(self.emulator, action)
            if callable(attribute):
                attribute(*args)
            else:
                setattr(self.emulator, action, args[0])
            done.set()

        self.loop.call_soon_threadsafe(call)
        done.wait(5)
