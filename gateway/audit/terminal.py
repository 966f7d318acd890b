"""Single keys from the technician's terminal without Enter: cbreak mode, always restored."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import termios
import tty
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def cbreak(fd: int) -> Iterator[None]:
    """Keys arrive one by one and are not echoed while inside; the terminal's settings come back on any exit.

    cbreak keeps ISIG, so Ctrl-C still interrupts (and the ``finally`` restores the terminal).
    """
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def key_reader(on_chunk: Callable[[str], None], fd: int | None = None) -> Iterator[None]:
    """Call ``on_chunk`` on the running loop with what the terminal sends, in cbreak mode, while inside."""
    fd = sys.stdin.fileno() if fd is None else fd
    loop = asyncio.get_running_loop()

    def readable() -> None:
        """Read what is there (a key, or an arrow's escape sequence)."""
        data = os.read(fd, 64)
        if data:
            on_chunk(data.decode(errors="ignore"))

    with cbreak(fd):
        loop.add_reader(fd, readable)
        try:
            yield
        finally:
            loop.remove_reader(fd)
