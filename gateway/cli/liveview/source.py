"""Feeds a live view's model from the daemon's status socket: status every second, events as committed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from gateway.cli.liveview.model import LiveModel
from gateway.diag.client import DaemonNotRunning, follow_events_async, request_status_async

STATUS_PERIOD_S = 1.0
TAIL_RETRY_S = 1.0
UNREACHABLE = (DaemonNotRunning, OSError, TimeoutError, ValueError)
"""What talking to a daemon that went away (or never answered properly) raises."""


def _reason(exc: BaseException) -> str:
    """A short sentence about a failure to talk to the daemon."""
    return str(exc) or type(exc).__name__


async def refresh_status(path: str, model: LiveModel, clock: Callable[[], float] = time.time) -> None:
    """Ask for the status once and hand the answer (or why there is none) to the model."""
    try:
        status = await request_status_async(path, timeout=5 * STATUS_PERIOD_S)
    except UNREACHABLE as exc:
        model.apply_unreachable(_reason(exc), clock())
    else:
        model.apply_status(status, clock())


async def poll_status(path: str, model: LiveModel, clock: Callable[[], float] = time.time) -> None:
    """Refresh the status every STATUS_PERIOD_S until cancelled."""
    while True:
        await refresh_status(path, model, clock)
        await asyncio.sleep(STATUS_PERIOD_S)


async def follow_tail(path: str, model: LiveModel, clock: Callable[[], float] = time.time) -> None:
    """Hand every committed event to the model until cancelled; reconnect when the stream ends."""
    while True:
        try:
            async for line in follow_events_async(path, []):
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                if "type" not in message and isinstance(message.get("skipped"), int):
                    model.apply_skipped(message["skipped"])
                else:
                    model.apply_event(message, clock())
        except UNREACHABLE as exc:
            model.apply_unreachable(_reason(exc), clock())
        await asyncio.sleep(TAIL_RETRY_S)


async def collect(path: str, seconds: float, model: LiveModel | None = None) -> LiveModel:
    """Follow the daemon for ``seconds``, then take a fresh status and close the summary window."""
    model = model or LiveModel()
    tasks = [asyncio.create_task(poll_status(path, model)), asyncio.create_task(follow_tail(path, model))]
    try:
        await asyncio.sleep(seconds)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await refresh_status(path, model)
    model.close_window()
    return model
