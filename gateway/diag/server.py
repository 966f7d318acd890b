"""A Unix socket in data_dir, reachable only by local users with the file's permissions.

Protocol: the client sends one JSON line, e.g. {"cmd": "status"} or {"cmd": "tail",
"types": ["footfall"]}; the server answers with JSON lines (one for status, a stream for tail).
`storegw audit` adds {"cmd": "crossings", "device": ID} (a `{"following": true}` line, then one
line per span of counts the device commits) and {"cmd": "audit", "report": {...}} (one answer line).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.outbox import Draft, Row

    CommitListener = Callable[[list[Row], list[Draft]], None]

log = logging.getLogger("storegw.diag")
TAIL_QUEUE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class DiagSources:
    """What the status socket serves: the daemon's status, and the outbox's commits for tail."""

    status: Callable[[], Awaitable[dict[str, Any]]]
    """Everything `storegw status` shows, secrets already redacted."""
    subscribe: Callable[[CommitListener], Callable[[], None]]
    """Call a listener with each committed batch (rows and their drafts); returns the unsubscribe."""
    crossings: Callable[[str, Callable[[dict[str, Any]], None]], Callable[[], None]] | None = None
    """Call a listener with each span of counts a device commits (gateway/audit/feed.py); returns the unsubscribe."""
    audit: Callable[[Any], dict[str, Any]] | None = None
    """Save and commit an audit report (gateway/audit/store.py); returns the answer for the client."""


class DiagServer:
    """Answers status and tail requests from the local CLI."""

    def __init__(self, sources: DiagSources, path: str, mode: int) -> None:
        """A server of ``sources`` on the socket ``path``, created with permission bits ``mode``."""
        self.sources = sources
        self.path = path
        self.mode = mode
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Listen on the socket path (replacing a stale socket file)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        # The umask gives the socket its final mode from the moment it exists (no window with another).
        old = os.umask(0o777 & ~self.mode)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=self.path)
        finally:
            os.umask(old)
        os.chmod(self.path, self.mode)

    async def stop(self) -> None:
        """Close the socket and remove its file."""
        if self._server:
            self._server.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Handle one client connection."""
        try:
            async with asyncio.timeout(10):
                line = await reader.readline()
            request = json.loads(line or b"{}")
            command = request.get("cmd")
            if command == "status":
                writer.write(json.dumps(await self.sources.status()).encode() + b"\n")
            elif command == "tail":
                await self._tail(request, reader, writer)
            elif command == "crossings" and self.sources.crossings:
                await self._crossings(str(request.get("device", "")), reader, writer)
            elif command == "audit" and self.sources.audit:
                writer.write(json.dumps(self.sources.audit(request.get("report"))).encode() + b"\n")
            else:
                writer.write(json.dumps({"error": f"unknown cmd {command!r}"}).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, TimeoutError, ValueError):
            pass
        finally:
            writer.close()

    async def _tail(self, request: dict[str, Any], reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        """Stream committed events until the client goes away."""
        types = set(request.get("types") or [])
        queue: asyncio.Queue[bytes] = asyncio.Queue(TAIL_QUEUE_MAX)
        skipped = 0

        def on_commit(rows: list[Row], drafts: list[Draft]) -> None:
            """Queue committed payloads of the wanted types for this client."""
            nonlocal skipped
            for row, draft in zip(rows, drafts, strict=True):
                if types and draft.name not in types:
                    continue
                try:
                    queue.put_nowait(row.payload)
                except asyncio.QueueFull:
                    skipped += 1

        def lines(payload: bytes) -> bytes:
            """The payload's line, then how many were skipped since the last one, if any."""
            nonlocal skipped
            out = payload + b"\n"
            if skipped:
                out += json.dumps({"skipped": skipped}).encode() + b"\n"
                skipped = 0
            return out

        unsubscribe = self.sources.subscribe(on_commit)
        try:
            await _stream_until_closed(queue, lines, reader, writer)
        finally:
            unsubscribe()

    async def _crossings(self, device: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Stream one device's spans of counts (for `storegw audit`) until the client goes away."""
        assert self.sources.crossings
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # a span per interval and line: small, unbounded
        unsubscribe = self.sources.crossings(device, queue.put_nowait)
        try:
            writer.write(json.dumps({"device": device, "following": True}).encode() + b"\n")
            await writer.drain()
            await _stream_until_closed(queue, lambda span: json.dumps(span).encode() + b"\n", reader, writer)
        finally:
            unsubscribe()


async def _stream_until_closed(queue: asyncio.Queue[Any], lines: Callable[[Any], bytes],
                               reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Write ``lines(item)`` for every queued item until the client closes its side of the socket."""
    closed = asyncio.create_task(reader.read())
    try:
        while not closed.done():
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            writer.write(lines(getter.result()))
            await writer.drain()
    finally:
        closed.cancel()
