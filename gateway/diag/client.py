"""Client side of the status socket (blocking, for one-shot verbs, and asyncio, for live views)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

LINE_LIMIT = 16 * 1024 * 1024
"""Longest answer line the asyncio client reads (a status with many devices, a large event)."""


class DaemonNotRunning(Exception):
    """Nobody answers on the status socket."""


def _not_running(path: str, exc: OSError) -> DaemonNotRunning | None:
    """The sentence for a failed connect to the socket, or None when ``exc`` is another failure."""
    if isinstance(exc, FileNotFoundError):
        return DaemonNotRunning(f"no status socket at {path}: is the daemon running (systemctl status storegw)?")
    if isinstance(exc, PermissionError):
        return DaemonNotRunning(f"permission denied on {path}: run as the storegw user or root")
    if isinstance(exc, ConnectionRefusedError):
        return DaemonNotRunning(f"nobody listens on {path}: the daemon is not running")
    return None


def _connect(path: str, timeout: float | None) -> socket.socket:
    """Open the socket or explain why not."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        explained = _not_running(path, exc)
        if explained is None:
            raise
        raise explained from None
    return sock


def request_status(path: str, timeout: float = 10.0) -> dict[str, Any]:
    """Ask the daemon for its status."""
    with _connect(path, timeout) as sock:
        sock.sendall(b'{"cmd": "status"}\n')
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


def follow_events(path: str, types: list[str]) -> Iterator[bytes]:
    """Yield each committed event's payload as the daemon commits it."""
    with _connect(path, None) as sock:
        sock.sendall(json.dumps({"cmd": "tail", "types": types}).encode() + b"\n")
        buffer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            yield from (line for line in lines if line)


async def _open(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open the socket from asyncio or explain why not."""
    try:
        return await asyncio.open_unix_connection(path, limit=LINE_LIMIT)
    except OSError as exc:
        explained = _not_running(path, exc)
        if explained is None:
            raise
        raise explained from None


async def request_status_async(path: str, timeout: float = 10.0) -> dict[str, Any]:
    """Ask the daemon for its status without blocking the event loop (the daemon may share it)."""
    async with asyncio.timeout(timeout):
        reader, writer = await _open(path)
        try:
            writer.write(b'{"cmd": "status"}\n')
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
    if not line:
        raise ConnectionResetError(f"the daemon closed {path} without answering")
    return json.loads(line)


async def follow_events_async(path: str, types: list[str]) -> AsyncIterator[bytes]:
    """Yield each committed event's payload (or a `{"skipped": n}` line) as the daemon commits it."""
    async with contextlib.aclosing(_follow(path, {"cmd": "tail", "types": types})) as lines:
        async for line in lines:
            yield line


async def follow_crossings_async(path: str, device: str) -> AsyncIterator[dict[str, Any]]:
    """Yield the daemon's `{"following": true}` line, then each span of counts ``device`` commits."""
    async with contextlib.aclosing(_follow(path, {"cmd": "crossings", "device": device})) as lines:
        async for line in lines:
            yield json.loads(line)


async def _follow(path: str, request: dict[str, Any]) -> AsyncIterator[bytes]:
    """Send one streaming request and yield each non-empty line of the answer (without its newline)."""
    reader, writer = await _open(path)
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        while line := await reader.readline():
            if line.strip():
                yield line.rstrip(b"\n")
    finally:
        writer.close()


async def commit_audit_async(path: str, report: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Hand an audit report to the daemon, which saves it and commits it as an `audit` event."""
    async with asyncio.timeout(timeout):
        reader, writer = await _open(path)
        try:
            writer.write(json.dumps({"cmd": "audit", "report": report}).encode() + b"\n")
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
    if not line:
        raise ConnectionResetError(f"the daemon closed {path} without answering")
    answer: dict[str, Any] = json.loads(line)
    return answer
