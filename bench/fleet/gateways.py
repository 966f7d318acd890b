"""The fleet of real `storegw run` processes: their configs, start in batches, memory, status, drain, stop."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.chaos.common import ROOT  # noqa: F401  (puts the repository on sys.path for tests.support)
from gateway.diag.client import request_status
from tests.support.peers import Daemon

PREFIX = "storegw/v1"
GATEWAY_ID = "gw1"


def store_id(index: int) -> str:
    """The store of gateway ``index`` (0-based): store-0001, store-0002, ..."""
    return f"store-{index + 1:04d}"


def config_text(index: int, data_dir: Path, urls: list[str], *, rate: float, startup_delay_max_s: float,
                commit_after_s: float, device: bool = True) -> str:
    """A lean daemon config: one synthetic device, a failover list over the nodes, MQTT 3.1.1, small quotas.

    The health interval is the longest allowed: a hundred daemons on two cores should spend their CPU on
    the events under test. log_level warning keeps a hundred logs small.
    """
    devices = f'\n[[devices]]\nid = "load"\nkind = "synthetic"\nrate = {rate:g}\n' if device else ""
    return f"""[gateway]
store_id = "{store_id(index)}"
gateway_id = "{GATEWAY_ID}"
data_dir = "{data_dir}"
health_interval_s = 3600
log_level = "warning"

[mqtt]
urls = {json.dumps(urls)}
protocol = "3.1.1"
topic_prefix = "{PREFIX}"
startup_delay_max_s = {startup_delay_max_s:g}
reconnect_min_s = 0.5
reconnect_max_s = 10
connect_timeout_s = 5

[outbox]
max_bytes = 5000000
ram_queue_max = 1000

[remote]
commit_after_s = {commit_after_s:g}
{devices}"""


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in kB from /proc; (0, 0) once it is gone."""
    rss = hwm = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


@dataclass
class Gateway:
    """One daemon of the fleet."""

    index: int
    folder: Path
    urls: list[str]
    daemon: Daemon | None = None
    peak_rss_kb: int = 0
    hwm_kb: int = 0
    rss_kb: int = 0
    """The latest VmRSS sample."""

    @property
    def key(self) -> str:
        """store/gateway, as in its topics."""
        return f"{store_id(self.index)}/{GATEWAY_ID}"

    @property
    def base(self) -> str:
        """Its topic base."""
        return f"{PREFIX}/{self.key}"

    @property
    def config_path(self) -> Path:
        """Its local config file."""
        return self.folder / "storegw.toml"

    @property
    def socket(self) -> str:
        """Its status socket (the default, in data_dir)."""
        return str(self.folder / "data" / "storegw.sock")

    def tables(self) -> dict[str, Any]:
        """Its local config file as tables (the base of a remote config)."""
        return tomllib.loads(self.config_path.read_text())

    def status(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """Its status (what `storegw status --json` shows), or None when it does not answer."""
        try:
            return request_status(self.socket, timeout)
        except Exception:
            return None

    def sample(self) -> None:
        """Note its memory now."""
        if self.daemon and self.daemon.process:
            rss, hwm = memory_kb(self.daemon.process.pid)
            if rss:
                self.rss_kb, self.peak_rss_kb, self.hwm_kb = rss, max(self.peak_rss_kb, rss), max(self.hwm_kb, hwm)


@dataclass
class Fleet:
    """Every daemon, and a thread sampling their memory every 2 s."""

    workdir: Path
    gateways: list[Gateway] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _sampler: threading.Thread | None = None

    def write(self, count: int, failover: Callable[[int], list[str]], **settings: Any) -> None:
        """Write ``count`` configs, each with its own data_dir and failover list."""
        for index in range(count):
            folder = self.workdir / f"gw-{index + 1:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            gateway = Gateway(index, folder, failover(index))
            gateway.config_path.write_text(config_text(index, folder / "data", gateway.urls, **settings))
            self.gateways.append(gateway)

    def start(self, batch: int, out: Callable[[str], None], timeout: float = 60.0) -> float:
        """Start every daemon, ``batch`` at a time, each batch answering on its status sockets; seconds taken."""
        began = time.monotonic()
        for first in range(0, len(self.gateways), batch):
            group = self.gateways[first:first + batch]
            for gateway in group:
                gateway.daemon = Daemon(gateway.config_path).start()
            deadline = time.monotonic() + timeout
            waiting = list(group)
            while waiting and time.monotonic() < deadline:
                time.sleep(0.2)
                waiting = [g for g in waiting if g.status(2) is None]
                dead = [g for g in waiting if not (g.daemon and g.daemon.alive())]
                if dead:
                    raise RuntimeError(f"{dead[0].key} exited at start; its log:\n{dead[0].daemon.log()[-2000:]}"
                                       if dead[0].daemon else f"{dead[0].key} did not start")
            if waiting:
                raise RuntimeError(f"{len(waiting)} daemons do not answer on their status socket after {timeout:g} s")
            out(f"fleet: {first + len(group)}/{len(self.gateways)} daemons up "
                f"({time.monotonic() - began:.1f} s)")
        self._sampler = threading.Thread(target=self._sample_loop, name="fleet-memory", daemon=True)
        self._sampler.start()
        return time.monotonic() - began

    def _sample_loop(self) -> None:
        """Sample every daemon's memory every 2 s (reading /proc costs microseconds)."""
        while not self._stop.wait(2.0):
            for gateway in self.gateways:
                gateway.sample()

    def alive(self) -> list[Gateway]:
        """The daemons still running."""
        return [g for g in self.gateways if g.daemon and g.daemon.alive()]

    def statuses(self) -> dict[str, dict[str, Any] | None]:
        """Every daemon's status (None: no answer)."""
        return {g.key: g.status() for g in self.gateways}

    def stop_devices(self, settings: dict[str, Any]) -> None:
        """Rewrite every local config without its device and SIGHUP it: the local file now wins over any
        committed remote config, the device stops and flushes, and last_seq stops moving."""
        for gateway in self.gateways:
            gateway.config_path.write_text(config_text(gateway.index, gateway.folder / "data", gateway.urls,
                                                       device=False, **settings))
            if gateway.daemon and gateway.daemon.alive():
                gateway.daemon.signal(signal.SIGHUP)

    def drained(self, timeout: float) -> dict[str, dict[str, Any]]:
        """Wait until every daemon has no device, nothing pending or queued, and a link up; their statuses.

        Daemons that do not get there within ``timeout`` are returned as they are (the check says so).
        """
        deadline = time.monotonic() + timeout
        done: dict[str, dict[str, Any]] = {}
        while True:
            for gateway in self.gateways:
                if gateway.key in done:
                    continue
                status = gateway.status()
                if status and not status["devices"] and not status["outbox"]["pending"] \
                        and not status["outbox"]["queued_in_ram"] and status["mqtt"]["connected"]:
                    done[gateway.key] = status
            if len(done) == len(self.gateways) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for gateway in self.gateways:
            if gateway.key not in done:
                done[gateway.key] = gateway.status() or {}
        return done

    def stop(self) -> dict[str, int]:
        """SIGTERM every daemon (their exit codes; 0 is a clean stop), then the memory sampler."""
        for gateway in self.gateways:
            gateway.sample()  # the last VmHWM before it goes
        codes: dict[str, int] = {}
        for gateway in self.alive():
            assert gateway.daemon and gateway.daemon.process
            gateway.daemon.process.send_signal(signal.SIGTERM)
        for gateway in self.gateways:
            if gateway.daemon and gateway.daemon.process:
                try:
                    codes[gateway.key] = gateway.daemon.process.wait(30)
                except Exception:
                    gateway.daemon.process.kill()
                    codes[gateway.key] = -9
        self._stop.set()
        return codes
