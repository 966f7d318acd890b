"""systemd integration: READY=1 once the outbox is open, WATCHDOG=1 while alive, STOPPING=1 on SIGTERM."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.broker import Mosquitto
from tests.support.peers import ROOT, write_config


def test_notify_socket_gets_ready_watchdog_and_stopping(tmp_path: Path, mosquitto: Mosquitto) -> None:
    notify = tmp_path / "notify.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(notify))
    receiver.settimeout(15)
    config = write_config(tmp_path / "c.toml", port=mosquitto.port, data_dir=tmp_path / "data")
    env = {**os.environ, "NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "1000000"}
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", "run", "--config", str(config)],
                               cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    messages: list[str] = []
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and sum("WATCHDOG=1" in m for m in messages) < 2:
            messages.append(receiver.recv(4096).decode())
        assert messages[0].startswith("READY=1")
        assert (tmp_path / "data" / "outbox.db").exists(), "READY only once the outbox is open"
        assert sum("WATCHDOG=1" in m for m in messages) >= 2
        process.terminate()
        while True:
            message = receiver.recv(4096).decode()
            if "STOPPING=1" in message:
                break
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        receiver.close()
