"""Runs the live view on a terminal with rich's Live until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import time

from rich.console import Console
from rich.live import Live

from gateway.cli.liveview.model import LiveModel
from gateway.cli.liveview.render import render_view
from gateway.cli.liveview.source import follow_tail, poll_status

REFRESH_PER_SECOND = 4.0


async def run_live_view(path: str, stop: asyncio.Event, console: Console | None = None,
                        refresh_per_second: float = REFRESH_PER_SECOND) -> LiveModel:
    """Show the daemon behind ``path`` live until ``stop`` is set; the last frame stays on screen."""
    model = LiveModel()
    tasks = [asyncio.create_task(poll_status(path, model)), asyncio.create_task(follow_tail(path, model))]
    try:
        # Refreshed from this loop only (auto_refresh off): rich's refresh thread never reads the model
        # while the loop changes it.
        with Live(render_view(model, time.time()), console=console, auto_refresh=False) as live:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1 / refresh_per_second):
                        await stop.wait()
                now = time.time()
                model.tick(now)
                live.update(render_view(model, now), refresh=True)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return model
