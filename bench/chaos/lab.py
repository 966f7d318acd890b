"""The chaos lab: broker, proxy, namespaces, tmpfs, consumer and daemon, and the watchdog that keeps a run going.

Every wait here is bounded. The lab's watchdog (``Lab.recover``) treats a daemon that neither
delivers nor exits as a finding: it says what the daemon reports about itself (or that its status
socket is silent), kills it with SIGKILL and starts it again, as systemd's watchdog would.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any

from bench.chaos.common import ROOT, now
from bench.chaos.consumer import Consumer
from bench.chaos.daemon import GatewayProcess
from bench.chaos.daemon_config import BASE_TOPIC, GatewayConfig
from bench.chaos.netns import NETNS_ADDR_BROKER, Netns
from bench.chaos.proxy import ChaosProxy
from bench.chaos.record import RoundRecord
from bench.chaos.tmpfs import Tmpfs
from tests.support.broker import Mosquitto, free_port, mosquitto_binary

RECOVER_TIMEOUT_S = 30.0


class Lab:
    """Everything one chaos run needs, and the watchdog that keeps the run going."""

    def __init__(self, workdir: Path, *, rate: float, net: str, tmpfs: bool, sabotage: str | None = None,
                 daemon_root: Path = ROOT) -> None:
        """Plan the lab in ``workdir``; ``setup()`` builds it."""
        self.workdir = workdir
        self.daemon_root = daemon_root
        self.base_rate = rate
        self.net_wanted = net
        self.tmpfs_wanted = tmpfs
        self.sabotage = sabotage
        self.data_dir = workdir / "data"
        self.config_path = workdir / "storegw.toml"
        self.broker: Mosquitto | None = None
        self.proxy: ChaosProxy | None = None
        self.netns: Netns | None = None
        self.tmpfs: Tmpfs | None = None
        self.gateway: GatewayProcess | None = None
        self.consumer: Consumer | None = None
        self.config: GatewayConfig | None = None
        self.skipped: dict[str, str] = {}
        """Fault kinds this lab cannot inject, with the reason."""
        self.net_mode = "proxy"
        self.fault_label: str | None = None
        self.fault_intervals: list[tuple[float, float, str]] = []
        self._fault_started = 0.0
        self.samples: list[tuple[float, bool]] = []
        """(time, the daemon is up, answers, says it is connected, and no fault is active)."""
        self.latest_status: dict[str, Any] | None = None
        self.round: RoundRecord | None = None
        self.watchdog_restarts = 0
        self.unexpected_exits = 0
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._cleaned = False

    # ---- build and tear down ---------------------------------------------------------------
    def setup(self) -> None:
        """Broker, proxy (in a namespace if asked), tmpfs, consumer, config, daemon; waits for the first events."""
        if mosquitto_binary() is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.tmpfs_wanted:
            tmpfs = Tmpfs(self.data_dir)
            reason = tmpfs.mount()
            if reason is None:
                self.tmpfs = tmpfs
            else:
                self.skipped["disk-full"] = reason
        else:
            self.skipped["disk-full"] = "tmpfs not asked for (--no-tmpfs)"
        self.broker = self._broker()
        sock = None
        url_host = "127.0.0.1"
        if self.net_wanted in ("netns", "auto"):
            reason = Netns.available()
            netns = Netns()
            if reason is None:
                reason = netns.setup()
            if reason is None:
                self.netns = netns
                sock = netns.listen_socket(1883)
                url_host, self.net_mode = NETNS_ADDR_BROKER, "netns"
            elif self.net_wanted == "netns":
                raise RuntimeError(f"--net netns: {reason}")
            else:
                self.skipped["partition"] = reason
        else:
            self.skipped["partition"] = "network namespaces not asked for (--net proxy)"
        self.proxy = ChaosProxy(("127.0.0.1", self.broker.port), sock=sock).start()
        port = 1883 if sock is not None else self.proxy.port
        self.config = GatewayConfig(url=f"mqtt://{url_host}:{port}", data_dir=str(self.data_dir), rate=self.base_rate)
        self.write_config(self.config)
        self.consumer = Consumer("127.0.0.1", self.broker.port, BASE_TOPIC, sabotage=self.sabotage).start()
        self.gateway = GatewayProcess(self.config_path, self.workdir / "gateway.log",
                                      str(self.data_dir / "storegw.sock"),
                                      netns=self.netns.gw_ns if self.netns else None, root=self.daemon_root)
        self.gateway.start()
        self._sampler = threading.Thread(target=self._sample_loop, name="chaos-sampler", daemon=True)
        self._sampler.start()
        deadline = now() + 30
        while self.consumer.new_count() < 10 and now() < deadline:
            if not self.gateway.alive():
                raise RuntimeError(f"the daemon exited at start (rc {self.gateway.returncode()}): "
                                   f"{self.gateway.log_tail(8)}")
            time.sleep(0.2)
        if self.consumer.new_count() < 10:
            raise RuntimeError(f"no event arrived within 30 s of starting the daemon: {self.gateway.log_tail(8)}")

    def _broker(self) -> Mosquitto:
        """A mosquitto on a free loopback port, its files in the workdir."""
        folder = self.workdir / "mosquitto"
        folder.mkdir(exist_ok=True)
        return Mosquitto(port=free_port(), workdir=str(folder)).start()

    def cleanup(self) -> None:
        """Stop everything this lab started and undo mounts and namespaces; safe to call twice."""
        if self._cleaned:
            return
        self._cleaned = True
        self._stop.set()
        if self.gateway is not None and self.gateway.alive():
            self.gateway.terminate(15)
        for step in (lambda: self.consumer and self.consumer.stop(), lambda: self.proxy and self.proxy.stop(),
                     lambda: self.broker and self.broker.stop()):
            with contextlib.suppress(Exception):
                step()
        if self._sampler is not None:
            self._sampler.join(5)
        if self.tmpfs is not None:
            self.tmpfs.unmount()
        if self.netns is not None:
            self.netns.teardown()

    def write_config(self, config: GatewayConfig | None = None, raw: bytes | None = None) -> None:
        """Replace the config file atomically (a reload must never read half a file)."""
        if config is not None:
            self.config = config
            raw = config.text().encode()
        assert raw is not None
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_bytes(raw)
        os.replace(tmp, self.config_path)

    # ---- observation ---------------------------------------------------------------------
    def _sample_loop(self) -> None:
        """Every second: memory, status, and whether the daemon is up, connected and fault-free."""
        connected, pid = False, None
        while not self._stop.is_set():
            gateway = self.gateway
            good = False
            if gateway is not None and gateway.alive():
                rss, _ = gateway.sample_memory()
                record = self.round
                if record is not None:
                    record.peak_rss_kb = max(record.peak_rss_kb, rss)
                if gateway.pid != pid:  # a new process is not connected until it says so
                    connected, pid = False, gateway.pid
                status = gateway.status(1.5)
                if status is not None:  # a slow answer keeps the last known state: it must not hide a stall
                    self.latest_status = status
                    connected = bool((status.get("mqtt") or {}).get("connected"))
                good = connected and self.fault_label is None and gateway.alive()
            with self._lock:
                self.samples.append((now(), good))
            self._stop.wait(1.0)

    def fault_begin(self, label: str) -> None:
        """From now on a fault is active (stalls do not count, the watchdog waits)."""
        self.fault_label = label
        self._fault_started = now()

    def fault_end(self) -> None:
        """The fault is cleared."""
        if self.fault_label is not None:
            self.fault_intervals.append((self._fault_started, now(), self.fault_label))
        self.fault_label = None

    # ---- the watchdog ----------------------------------------------------------------------
    def ensure_broker(self, record: RoundRecord) -> None:
        """Restart the broker if it died without us (and say so)."""
        assert self.broker
        process = self.broker.process
        if process is None or process.poll() is not None:
            if process is not None:
                record.problem(f"mosquitto exited by itself (rc {process.poll()}); restarted")
            self.broker.process = None
            self.broker.start()

    def check_alive(self, record: RoundRecord, when: str) -> bool:
        """True when the daemon runs; otherwise report its exit and start it again."""
        assert self.gateway
        if self.gateway.alive():
            return True
        rc = self.gateway.returncode()
        self.unexpected_exits += 1
        record.problem(f"the daemon exited by itself {when} (rc {rc}): {self.gateway.log_tail(3)}")
        self.gateway.start()
        return False

    def steady(self, seconds: float, record: RoundRecord) -> None:
        """Let the load run, watching that the daemon stays up."""
        end = now() + seconds
        while now() < end:
            self.check_alive(record, "under steady load")
            time.sleep(min(0.2, max(0.0, end - now())))

    def diagnose(self) -> str:
        """What a daemon that does not deliver says about itself (two looks 3 s apart)."""
        assert self.gateway
        first = self.gateway.status(3.0)
        if first is None:
            return "its status socket does not answer within 3 s (it neither works nor exits)"
        time.sleep(3.0)
        second = self.gateway.status(3.0) or first
        outbox1, outbox2 = first.get("outbox") or {}, second.get("outbox") or {}
        mqtt = second.get("mqtt") or {}
        moved = (outbox2.get("last_seq") or 0) - (outbox1.get("last_seq") or 0)
        parts = [f"last_seq {outbox1.get('last_seq')} -> {outbox2.get('last_seq')} in 3 s"
                 + (" (the writer is stuck)" if moved == 0 else ""),
                 f"queued_in_ram {outbox2.get('queued_in_ram')}", f"pending {outbox2.get('pending')}",
                 f"write_errors {outbox2.get('write_errors')}", f"connected {mqtt.get('connected')}",
                 f"inflight {mqtt.get('inflight')}"]
        error = outbox2.get("last_error") or mqtt.get("last_error")
        if error:
            parts.append(f"last error: {str(error)[:160]}")
        return "; ".join(parts)

    def recover(self, record: RoundRecord, timeout: float = RECOVER_TIMEOUT_S, what: str = "after the fault") -> bool:
        """Wait (bounded) for live events to flow; if they do not, diagnose, SIGKILL, restart, wait again."""
        assert self.gateway and self.consumer
        need = max(5, int(self.config.rate * 0.5 if self.config else 50))
        for attempt in (1, 2):
            start_count = self.consumer.new_count()
            deadline = now() + timeout
            while now() < deadline:
                self.ensure_broker(record)
                if not self.check_alive(record, what):
                    start_count = self.consumer.new_count()
                if self.consumer.new_count() - start_count >= need:
                    return True
                time.sleep(0.2)
            if not self.gateway.alive():
                continue
            diagnosis = self.diagnose()
            self.watchdog_restarts += 1
            record.problem(f"watchdog: no new event for {timeout:g} s {what} while the daemon runs; {diagnosis}; "
                           f"log: {self.gateway.log_tail(2)}; killed (SIGKILL) and restarted")
            self.gateway.kill9()
            self.gateway.start()
            what = "after the watchdog restart"
            if attempt == 2:
                break
        record.problem(f"still no live events {what}")
        return False

    def last_seq(self) -> int:
        """The daemon's last committed sequence (its status, or the highest received)."""
        assert self.consumer
        status = self.gateway.status(2.0) if self.gateway else None
        if status is not None:
            with contextlib.suppress(TypeError, ValueError):
                return int((status.get("outbox") or {}).get("last_seq") or 0)
        return self.consumer.max_seq()
