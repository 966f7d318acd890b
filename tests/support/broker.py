"""A real mosquitto for tests: its own process on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


def mosquitto_binary() -> str | None:
    """Path of mosquitto, if installed."""
    return shutil.which("mosquitto") or (os.path.exists("/usr/sbin/mosquitto") and "/usr/sbin/mosquitto") or None


@dataclass
class Mosquitto:
    """One mosquitto process; stop() and start() keep the same port so clients can reconnect."""

    port: int = field(default_factory=free_port)
    tls: dict[str, str] | None = None
    password_file: str | None = None
    acl_file: str | None = None
    """A mosquitto ``acl_file`` (topic access per user); with it, only what it grants is allowed."""
    process: subprocess.Popen[bytes] | None = None
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="storegw-mosq-"))

    def config_text(self) -> str:
        """The broker's config: loopback only, anonymous, no persistence, generous queues."""
        anonymous = "false" if self.password_file else "true"
        lines = [f"listener {self.port} 127.0.0.1", f"allow_anonymous {anonymous}", "persistence false",
                 "max_queued_messages 1000000", "max_inflight_messages 0", "log_dest stderr", "log_type error",
                 # PUBACKs unbuffered: with Nagle on, a PUBACK can wait for the client's delayed ACK,
                 # that is until the next PUBLISH (p50 = 1/rate) or 40 ms
                 "set_tcp_nodelay true"]
        if self.password_file:
            lines.append(f"password_file {self.password_file}")
        if self.acl_file:
            lines.append(f"acl_file {self.acl_file}")
        if os.geteuid() == 0:
            lines.append("user root")  # else mosquitto drops to its own user and cannot read the test's files
        if self.tls:
            lines += [f"cafile {self.tls['ca']}", f"certfile {self.tls['cert']}", f"keyfile {self.tls['key']}"]
            if self.tls.get("require_certificate"):
                lines.append("require_certificate true")
        return "\n".join(lines) + "\n"

    def start(self) -> Mosquitto:
        """Start the broker and wait for its port."""
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        conf = os.path.join(self.workdir, "mosquitto.conf")
        with open(conf, "w") as handle:
            handle.write(self.config_text())
        self.process = subprocess.Popen([binary, "-c", conf], stdout=subprocess.DEVNULL,
                                        stderr=open(os.path.join(self.workdir, "log"), "ab"))  # noqa: SIM115
        wait_port(self.port)
        return self

    def stop(self) -> None:
        """Stop the broker (as a crash would: SIGKILL)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    @property
    def url(self) -> str:
        """mqtt:// or mqtts:// URL of this broker."""
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"
