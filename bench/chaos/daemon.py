"""The daemon under test: `storegw run` as a subprocess, its status socket, memory and log."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.chaos.common import ROOT, now

STATUS_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 30.0


def daemon_env(root: Path) -> dict[str, str]:
    """The environment of the daemon and of `storegw` commands: ``root``'s packages first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def proc_memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in kB; (0, 0) when it is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return values["VmRSS"], values["VmHWM"]


def request_status(path: str, timeout: float = STATUS_TIMEOUT_S) -> dict[str, Any] | None:
    """The daemon's status from its socket, or None when nobody answers in time."""
    deadline = now() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b'{"cmd": "status"}\n')
            data = b""
            while not data.endswith(b"\n") and now() < deadline and len(data) < 16 * 1024 * 1024:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        value = json.loads(data)
        return value if isinstance(value, dict) else None
    except (OSError, ValueError):
        return None


class GatewayProcess:
    """`storegw run --config FILE` as a subprocess (inside a network namespace when given one)."""

    def __init__(self, config_path: Path, log_path: Path, socket_path: str, netns: str | None = None,
                 root: Path = ROOT) -> None:
        """A daemon not started yet; ``root`` is the tree whose `gateway` package runs."""
        self.config_path = config_path
        self.root = root
        self.log_path = log_path
        self.socket_path = socket_path
        self.netns = netns
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.peak_rss_kb = 0
        self.peak_hwm_kb = 0
        self.last_hwm_kb = 0

    def start(self) -> None:
        """Start the daemon (its output appended to the log)."""
        command = [sys.executable, "-m", "gateway.cli.main", "run", "--config", str(self.config_path)]
        if self.netns:
            command = ["ip", "netns", "exec", self.netns, *command]  # ip execs: the pid is the daemon's
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== chaos: start #{self.starts + 1} at {time.strftime('%H:%M:%S')} ====\n".encode())
            self.process = subprocess.Popen(command, cwd=self.root, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            env=daemon_env(self.root))
        self.starts += 1

    @property
    def pid(self) -> int | None:
        """The daemon's pid while it runs."""
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def returncode(self) -> int | None:
        """Exit code once it has ended."""
        return None if self.process is None else self.process.poll()

    def sample_memory(self) -> tuple[int, int]:
        """Read VmRSS and VmHWM now and keep the peaks."""
        pid = self.pid
        if pid is None:
            return 0, 0
        rss, hwm = proc_memory_kb(pid)
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        self.peak_hwm_kb = max(self.peak_hwm_kb, hwm)
        self.last_hwm_kb = hwm
        return rss, hwm

    def kill9(self) -> None:
        """SIGKILL (as a crash or power cut), after a last memory sample."""
        if self.process is None:
            return
        self.sample_memory()
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def terminate(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM and wait (bounded); SIGKILL when it does not end. Returns the exit code, None if killed."""
        if self.process is None or self.process.poll() is not None:
            return self.returncode()
        self.sample_memory()
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None

    def sighup(self) -> None:
        """Ask for a reload."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGHUP)

    def status(self, timeout: float = STATUS_TIMEOUT_S) -> dict[str, Any] | None:
        """The daemon's status, or None."""
        return request_status(self.socket_path, timeout) if self.alive() else None

    def log_size(self) -> int:
        """Bytes in the log so far (an offset for ``log_since``)."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int, limit: int = 4 * 1024 * 1024) -> str:
        """The log from ``offset`` on (at most ``limit`` bytes)."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(offset)
                return handle.read(limit).decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 5, since: int = 0) -> str:
        """The last lines of the log since ``since``, one string."""
        text = self.log_since(max(since, self.log_size() - 64 * 1024))
        return " | ".join(line.strip()[:240] for line in text.strip().splitlines()[-lines:])
