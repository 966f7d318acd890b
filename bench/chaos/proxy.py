"""A small asyncio TCP proxy the chaos suite puts between the gateway and the broker.

It runs its own event loop on a daemon thread and is driven from the harness's thread:

* ``blackhole()``: a partition. Nothing is read or written any more on any connection (bytes
  wait in the kernel's buffers, as they would behind a dead router), and new connections are
  accepted but never connected upstream. ``heal()`` lets everything flow again, like TCP
  retransmissions after a link comes back.
* ``reset()``: every current connection is closed on both sides with an RST (SO_LINGER 0);
  new connections are forwarded as usual.

Only loopback or the caller's own listening socket (e.g. one bound inside a network namespace
the suite created) is ever used.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field

CONNECT_TIMEOUT_S = 5.0
"""How long the proxy waits for the upstream (the broker) to accept a connection."""
CONTROL_TIMEOUT_S = 5.0
"""How long a call from the harness's thread waits for the proxy's loop to do it."""
CHUNK = 65536


@dataclass(eq=False)
class _Connection:
    """One proxied connection: the client side, the upstream side and the two pumps."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def _rst(writer: asyncio.StreamWriter | None) -> None:
    """Close a stream's socket at once with an RST instead of a FIN."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class ChaosProxy:
    """Forwards connections to ``upstream``; can black-hole (pause) or reset them on demand."""

    def __init__(self, upstream: tuple[str, int], listen: tuple[str, int] = ("127.0.0.1", 0),
                 sock: socket.socket | None = None) -> None:
        """A proxy to ``upstream`` listening on ``listen`` or on an already bound ``sock``."""
        self.upstream = upstream
        self.listen = listen
        self._sock = sock
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chaos-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._connections: set[_Connection] = set()
        self.port = 0
        self.accepted = 0
        self.resets = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.blackholed = False

    # ---- control, from the harness's thread ---------------------------------------------
    def start(self) -> ChaosProxy:
        """Start the loop thread and listen; returns once it accepts connections."""
        self._thread.start()
        self._call(self._start())
        return self

    def blackhole(self) -> None:
        """Stop forwarding anything on every connection, current and new (a partition)."""
        self.blackholed = True
        self._call(self._set_flowing(False))

    def heal(self) -> None:
        """Forward again; held bytes go on as if the partition had never been."""
        self.blackholed = False
        self._call(self._set_flowing(True))

    def reset(self) -> int:
        """Close every current connection on both sides with an RST; returns how many there were."""
        count = int(self._call(self._reset_all()) or 0)
        self.resets += count
        return count

    def open_connections(self) -> int:
        """Connections open right now."""
        return len(self._connections)

    def stop(self) -> None:
        """Close everything and end the loop thread (bounded)."""
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CONTROL_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()

    def _call(self, coro: object) -> object:
        """Run a coroutine on the proxy's loop and wait for it, never forever."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        return future.result(CONTROL_TIMEOUT_S)

    # ---- on the proxy's loop ------------------------------------------------------------
    async def _start(self) -> None:
        """Listen (on the given socket or address)."""
        self._flowing = asyncio.Event()
        self._flowing.set()
        if self._sock is not None:
            self._server = await asyncio.start_server(self._handle, sock=self._sock)
        else:
            self._server = await asyncio.start_server(self._handle, self.listen[0], self.listen[1])
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _set_flowing(self, flowing: bool) -> None:
        """Open or close the gate every pump waits at."""
        assert self._flowing is not None
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _reset_all(self) -> int:
        """RST every connection and cancel its pumps."""
        connections = list(self._connections)
        for conn in connections:
            self._close(conn, rst=True)
        return len(connections)

    async def _shutdown(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        await self._reset_all()

    def _close(self, conn: _Connection, *, rst: bool) -> None:
        """Close both sides of ``conn`` (RST or FIN) and forget it."""
        for task in conn.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        for writer in (conn.client, conn.upstream):
            if writer is None:
                continue
            if rst:
                _rst(writer)
            else:
                writer.close()
        self._connections.discard(conn)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client: wait while black-holed, connect upstream, pump both ways until either side ends."""
        assert self._flowing is not None
        self.accepted += 1
        conn = _Connection(writer)
        self._connections.add(conn)
        me = asyncio.current_task()
        if me is not None:
            conn.tasks.append(me)
        try:
            await self._flowing.wait()  # accepted, but nothing happens during a partition
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except (OSError, TimeoutError):
                self._close(conn, rst=True)  # as the broker being down looks from the gateway
                return
            conn.upstream = up_writer
            pumps = [asyncio.create_task(self._pump(reader, up_writer, up=True)),
                     asyncio.create_task(self._pump(up_reader, writer, up=False))]
            conn.tasks.extend(pumps)
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass
        finally:
            if conn in self._connections:
                self._close(conn, rst=False)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, up: bool) -> None:
        """Copy bytes one way; held (not dropped) while black-holed; ends on EOF or an error."""
        assert self._flowing is not None
        try:
            while True:
                await self._flowing.wait()
                data = await reader.read(CHUNK)
                if not data:
                    return
                await self._flowing.wait()  # black-holed between the read and the write: hold the bytes
                writer.write(data)
                await writer.drain()
                if up:
                    self.bytes_up += len(data)
                else:
                    self.bytes_down += len(data)
        except (OSError, asyncio.IncompleteReadError):
            return
