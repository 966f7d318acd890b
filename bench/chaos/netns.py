"""Network namespaces for partitions: the daemon in one, the proxy's listener in another, a veth pair between."""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import threading
from typing import Any

from bench.chaos.common import run_cmd

NETNS_ADDR_BROKER = "10.213.0.1"
NETNS_ADDR_GATEWAY = "10.213.0.2"


class Netns:
    """Two namespaces of our own joined by a veth pair: the daemon in one, the proxy's listener in the other."""

    def __init__(self) -> None:
        """Names unique to this process (veth names stay within 15 characters)."""
        tag = f"{os.getpid() % 100000}"
        self.gw_ns = f"storegw-chaos-{tag}-gw"
        self.br_ns = f"storegw-chaos-{tag}-br"
        self.gw_dev = f"scg{tag}"
        self.br_dev = f"scb{tag}"
        self.ready = False

    @staticmethod
    def available() -> str | None:
        """None when namespaces can be used here, else the reason they cannot."""
        if os.geteuid() != 0:
            return "network namespaces need root"
        if shutil.which("ip") is None:
            return "the ip command (iproute2) is not installed"
        return None

    def setup(self) -> str | None:
        """Create both namespaces and the link; None on success, else why not (and nothing left behind)."""
        steps = [["ip", "netns", "add", self.gw_ns], ["ip", "netns", "add", self.br_ns],
                 ["ip", "link", "add", self.gw_dev, "netns", self.gw_ns, "type", "veth",
                  "peer", "name", self.br_dev, "netns", self.br_ns],
                 ["ip", "-n", self.gw_ns, "addr", "add", f"{NETNS_ADDR_GATEWAY}/30", "dev", self.gw_dev],
                 ["ip", "-n", self.br_ns, "addr", "add", f"{NETNS_ADDR_BROKER}/30", "dev", self.br_dev],
                 ["ip", "-n", self.gw_ns, "link", "set", "lo", "up"],
                 ["ip", "-n", self.br_ns, "link", "set", "lo", "up"],
                 ["ip", "-n", self.gw_ns, "link", "set", self.gw_dev, "up"],
                 ["ip", "-n", self.br_ns, "link", "set", self.br_dev, "up"]]
        for step in steps:
            done = run_cmd(step)
            if done.returncode != 0:
                self.teardown()
                return f"`{' '.join(step)}` failed: {done.stderr.strip() or done.returncode}"
        self.ready = True
        return None

    def listen_socket(self, port: int = 1883) -> socket.socket:
        """A TCP socket listening on the broker-side address, made inside the broker-side namespace."""
        libc = ctypes.CDLL(None, use_errno=True)
        result: dict[str, Any] = {}

        def inside() -> None:
            """Join the namespace on this thread only (network namespaces are per thread), bind, listen."""
            fd = os.open(f"/var/run/netns/{self.br_ns}", os.O_RDONLY)
            try:
                if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
                    result["error"] = OSError(ctypes.get_errno(), "setns failed")
                    return
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((NETNS_ADDR_BROKER, port))
                sock.listen(64)
                sock.setblocking(False)
                result["socket"] = sock
            except OSError as exc:
                result["error"] = exc
            finally:
                os.close(fd)

        thread = threading.Thread(target=inside, name="netns-bind")
        thread.start()
        thread.join(10)
        if "socket" not in result:
            raise result.get("error") or TimeoutError("binding inside the namespace did not finish")
        return result["socket"]

    def down(self) -> bool:
        """Take the daemon's side of the link down (a cable pulled)."""
        return run_cmd(["ip", "-n", self.gw_ns, "link", "set", self.gw_dev, "down"]).returncode == 0

    def up(self) -> bool:
        """Bring it back (the kernel restores the connected route)."""
        return run_cmd(["ip", "-n", self.gw_ns, "link", "set", self.gw_dev, "up"]).returncode == 0

    def teardown(self) -> None:
        """Delete both namespaces (which deletes the veth pair)."""
        for name in (self.gw_ns, self.br_ns):
            run_cmd(["ip", "netns", "del", name])
        self.ready = False
