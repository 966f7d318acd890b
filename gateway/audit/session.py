"""One audit run against the daemon: follow the device, take the tally, wait for the device's last interval."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.audit.device_side import DeviceSide
from gateway.audit.report import Report, compare
from gateway.audit.screen import LiveFigures
from gateway.audit.tally import Tally, split_keys
from gateway.diag.client import follow_crossings_async

FRAME_S = 0.25


class AuditRefused(Exception):
    """The daemon does not follow this device's counts (an older daemon, or a wrong device)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What the technician asked for."""

    device: str
    window_s: float
    tolerance_s: float = 2.0
    bucket_s: float = 60.0
    line: str | None = None
    settle_s: float = 90.0
    """Longest wait after the window for the device's interval that covers its end."""
    script: list[tuple[float, str]] | None = None
    """A scripted tally (offset, action); None = keys from the terminal."""


@dataclass(slots=True)
class Outcome:
    """The comparison and how the audit went."""

    report: Report
    ended_early: bool
    device_reported: bool


async def _play(script: list[tuple[float, str]], start: float, tally: Tally) -> None:
    """Replay a scripted tally on the wall clock (the device counts live), each press at its exact offset."""
    for offset, action in script:
        await asyncio.sleep(max(0.0, start + offset - time.time()))
        tally.apply(action, start + offset)


async def run_audit(path: str, plan: Plan, show: Callable[[LiveFigures], None],
                    started: Callable[[float], None] = lambda start: None) -> Outcome:
    """Audit ``plan.device`` through the daemon on ``path``; ``show`` gets a frame every FRAME_S."""
    stream = follow_crossings_async(path, plan.device)
    first = await anext(stream, None)
    if not first or not first.get("following"):
        raise AuditRefused((first or {}).get("error") or "the daemon closed the connection")
    side = DeviceSide(plan.line)
    tally = Tally()
    quit_now = asyncio.Event()

    async def collect() -> None:
        """Keep every span the daemon sends."""
        async for span in stream:
            side.add(span)

    def on_chunk(chunk: str) -> None:
        """Keys from the terminal: a press is timed when it arrives."""
        for action in split_keys(chunk):
            if action == "quit":
                quit_now.set()
            else:
                tally.apply(action, time.time())

    def frame(now: float, end: float, settling: bool = False) -> None:
        """Show the current figures."""
        device_in, device_out = side.counts(start, now) if side.spans else (None, None)
        widest = max((s["to"] - s["from"] for s in side.spans), default=0.0)
        show(LiveFigures(plan.device, end - now, tally.count("in"), tally.count("out"), device_in, device_out,
                         widest, settling))

    collector = asyncio.create_task(collect())
    start = time.time()
    end = start + plan.window_s
    started(start)
    player = asyncio.create_task(_play(plan.script, start, tally)) if plan.script is not None else None
    keys = contextlib.nullcontext() if plan.script is not None else _terminal(on_chunk)
    try:
        with keys:
            while time.time() < end and not quit_now.is_set() and not collector.done():
                frame(time.time(), end)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(FRAME_S, max(0.0, end - time.time()))):
                        await quit_now.wait()
        ended_early = quit_now.is_set()
        end = min(end, time.time())
        settle_until = time.time() + plan.settle_s
        while not collector.done() and time.time() < settle_until and (side.reported_until() or 0.0) < end:
            frame(time.time(), end, settling=True)
            await asyncio.sleep(FRAME_S)
    finally:
        for task in (player, collector):
            if task:
                task.cancel()
        await asyncio.gather(*(t for t in (player, collector) if t), return_exceptions=True)
        await stream.aclose()
    report = compare(tally.presses, side.crossings(), plan.tolerance_s, start, end, plan.bucket_s)
    return Outcome(report, ended_early, (side.reported_until() or 0.0) >= end)


def _terminal(on_chunk: Callable[[str], None]) -> contextlib.AbstractContextManager[None]:
    """The terminal's key reader (imported late: termios exists on POSIX only)."""
    from gateway.audit.terminal import key_reader

    return key_reader(on_chunk)
