"""Client side of the status socket."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any


class DaemonNotRunning(Exception):
    """Nobody answers on the status socket."""


def _connect(path: str, timeout: float | None) -> socket.socket:
    """Open the socket or explain why not."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except FileNotFoundError:
        sock.close()
        raise DaemonNotRunning(f"no status socket at {path}: is the daemon running "
                               "(systemctl status storegw)?") from None
    except PermissionError:
        sock.close()
        raise DaemonNotRunning(f"permission denied on {path}: run as the storegw user or root") from None
    except ConnectionRefusedError:
        sock.close()
        raise DaemonNotRunning(f"nobody listens on {path}: the daemon is not running") from None
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
