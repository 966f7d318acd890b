"""systemd's notify protocol (READY=1, WATCHDOG=1, STATUS=...): one datagram, no dependency."""

from __future__ import annotations

import os
import socket


class Notifier:
    """Sends state to systemd when it started us with NOTIFY_SOCKET; otherwise does nothing."""

    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace
            address = "\0" + address[1:]
        self.address = address or None
        watchdog_usec = os.environ.get("WATCHDOG_USEC", "")
        self.watchdog_interval = int(watchdog_usec) / 2e6 if watchdog_usec.isdigit() else None

    def notify(self, *states: str) -> bool:
        """Send ``states`` (e.g. "READY=1"); False when not under systemd or the send failed."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(states).encode(), self.address)
            return True
        except OSError:
            return False
