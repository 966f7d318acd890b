"""The status socket served in-process on a tmp path: status answers, tail streams committed events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.diag.client import follow_events_async, request_status_async
from gateway.diag.server import DiagServer, DiagSources
from gateway.events.types.synthetic import SyntheticData
from gateway.outbox import Draft, Outbox, QuotaPolicy, Row
from tests.support.waiting import until

STATUS = {"version": "0.0.0-test", "outbox": {"last_seq": 3}, "devices": {}}



class Sources:
    """What the daemon hands the server: a status and the outbox's commits, counting who listens."""

    def __init__(self, outbox: Outbox | None = None) -> None:
        """Sources over ``outbox`` (for tail)."""
        self.outbox = outbox
        self.asked = 0
        self.listeners = 0

    async def status(self) -> dict[str, Any]:
        """The fixed status, counted."""
        self.asked += 1
        return STATUS

    def subscribe(self, listener: Callable[[list[Row], list[Draft]], None]) -> Callable[[], None]:
        """Subscribe to the real outbox; the returned call unsubscribes."""
        assert self.outbox is not None
        unsubscribe = self.outbox.subscribe(listener)
        self.listeners += 1

        def leave() -> None:
            """Unsubscribe and count it."""
            unsubscribe()
            self.listeners -= 1

        return leave

    def diag(self) -> DiagSources:
        """These sources, as the server takes them."""
        return DiagSources(status=self.status, subscribe=self.subscribe)


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    """A real outbox with its writer running."""
    box = Outbox(str(tmp_path / "o.db"), source="/stores/s/gateways/g", quota=QuotaPolicy(), batch_max=100)
    await box.open()
    writer = asyncio.create_task(box.run())
    yield box
    writer.cancel()
    await asyncio.wait([writer], timeout=10)
    await box.close()


async def test_status_is_one_json_line_on_a_socket_with_the_configured_mode(tmp_path: Path) -> None:
    """The socket gets its mode, answers status with the daemon's status, and is removed on stop."""
    sources = Sources()
    path = str(tmp_path / "s.sock")
    server = DiagServer(sources.diag(), path, 0o660)
    await server.start()
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        assert await request_status_async(path) == STATUS
        assert sources.asked == 1
    finally:
        await server.stop()
    assert not os.path.exists(path)


async def test_an_unknown_command_is_answered_with_an_error(tmp_path: Path) -> None:
    """Anything but status and tail gets an error line."""
    path = str(tmp_path / "s.sock")
    server = DiagServer(Sources().diag(), path, 0o600)
    await server.start()
    try:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b'{"cmd": "reboot"}\n')
        await writer.drain()
        line = await reader.readline()
        writer.close()
    finally:
        await server.stop()
    assert json.loads(line) == {"error": "unknown cmd 'reboot'"}


async def test_tail_streams_committed_events_of_the_wanted_types_in_order(tmp_path: Path, outbox: Outbox) -> None:
    """Tail sends the payload of each committed event of the asked types; leaving unsubscribes."""
    sources = Sources(outbox)
    path = str(tmp_path / "s.sock")
    server = DiagServer(sources.diag(), path, 0o600)
    await server.start()
    got: list[dict[str, Any]] = []

    async def follow() -> None:
        """Read five footfall events, then leave."""
        async with contextlib.aclosing(follow_events_async(path, ["footfall"])) as lines:
            async for line in lines:
                got.append(json.loads(line))
                if len(got) == 5:
                    return

    try:
        reading = asyncio.create_task(follow())
        await until(lambda: sources.listeners == 1, what="the tail subscribed")
        for n in range(10):
            outbox.submit("footfall" if n % 2 == 0 else "synthetic", "door", time.time(), SyntheticData(n=n),
                          "t/x")
        await asyncio.wait_for(reading, 30)
        await until(lambda: sources.listeners == 0, what="the tail unsubscribed")
    finally:
        await server.stop()
    assert [int(event["sequence"]) for event in got] == [1, 3, 5, 7, 9]
    assert {event["type"] for event in got} == {"storegw.footfall.v1"}
    assert [event["data"]["n"] for event in got] == [0, 2, 4, 6, 8]
