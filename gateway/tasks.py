"""Waiting for cancelled tasks without ever waiting forever."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("storegw")
STOP_WAIT_S = 10.0
"""How long shutdown waits for a cancelled task before going on without it."""


async def settle(tasks: list[asyncio.Task[Any] | None], what: str, timeout: float = STOP_WAIT_S) -> None:
    """Wait for cancelled tasks to end, never forever: one that does not is logged and left behind."""
    live = [task for task in tasks if task is not None]
    if not live:
        return
    done, pending = await asyncio.wait(live, timeout=timeout)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task %s ended with %r", what, task.get_name(), task.exception())
    for task in pending:
        log.error("%s: task %s did not stop within %g s; going on without it", what, task.get_name(), timeout)
