"""Shutdown always ends: a slow commit, a task that ignores its cancel or a stuck thread cannot hold it."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from gateway.app import stop_writer
from gateway.events.types.synthetic import SyntheticData
from gateway.outbox import Outbox, QuotaPolicy
from gateway.pipelines import Event
from gateway.supervisor import DeviceSlot, Supervisor
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT


class Discard:
    """An event sink for a supervisor whose devices emit nothing here."""

    def commit_event(self, subject: str, event: Event) -> None:
        """Drop the event."""


async def test_a_writer_still_committing_is_left_alone_not_doubled(tmp_path: Path) -> None:
    """A commit still running when shutdown gives up on the writer is neither doubled nor numbered twice."""
    outbox = Outbox(str(tmp_path / "o.db"), source="/stores/s/gateways/g", quota=QuotaPolicy(), batch_max=5)
    await outbox.open()
    transaction = outbox.writer.commit

    async def slow(*args: Any) -> Any:
        """A commit on a very slow card."""
        await asyncio.sleep(1.0)
        return await transaction(*args)

    outbox.writer.commit = slow  # type: ignore[method-assign]
    writer = asyncio.create_task(outbox.run())
    for i in range(10):
        outbox.submit("synthetic", "dev", 1_700_000_000 + i, SyntheticData(n=i), "t/synthetic")
    await asyncio.sleep(0.1)  # the writer is inside its first (shielded) transaction
    await stop_writer(outbox, writer, timeout=0.2)
    assert not writer.done()  # given up on, and nothing written beside it
    await asyncio.wait([writer], timeout=5)  # the shielded commit finishes on its own
    await outbox.close()
    with sqlite3.connect(tmp_path / "o.db") as db:
        seqs = [seq for (seq,) in db.execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 10


async def test_stopping_a_device_does_not_swallow_a_cancel_aimed_at_the_caller(tmp_path: Path) -> None:
    """Cancelling the caller of Supervisor.stop cancels it, however long the device takes to let go."""
    supervisor = Supervisor(Discard(), str(tmp_path))

    async def stubborn() -> None:
        """A device that takes 2 s to let go of its hardware."""
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(2)
            raise

    slot = DeviceSlot(config=None, context=None)  # type: ignore[arg-type]
    slot.task = asyncio.create_task(stubborn())
    supervisor.slots["d"] = slot
    await asyncio.sleep(0)
    caller = asyncio.create_task(supervisor.stop("d"))
    await asyncio.sleep(0.1)
    caller.cancel()
    await asyncio.wait([caller], timeout=5)
    assert caller.cancelled()


def test_the_exit_is_forced_when_a_thread_will_not_end() -> None:
    script = textwrap.dedent("""
        import threading, time
        from gateway.cli.run import exit_guard
        threading.Thread(target=time.sleep, args=(60,)).start()  # not a daemon: would hold the exit
        exit_guard(7, grace_s=0.5)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=30, capture_output=True, text=True)
    assert result.returncode == 7
    assert "forcing it" in result.stderr
