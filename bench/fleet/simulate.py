"""The fleet-simulate part: `storegw fleet simulate --gateways 1000` against a mosquitto of our own.

Events/s: counted by our own subscriber (QoS 0 on the fleet's topics, not state or command answers)
over the steady window (from the end of the ramp + 5 s to the broker kill). Reconnect spread after
a broker restart (SIGKILL, down ``outage_s``, started again on the same port without persistence): the
simulator's own reconnect wave from its JSON summary (per gateway: lost at, CONNACK at), and, seen from
outside, the births (`.../state` online) our subscriber receives after the restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bench.chaos.common import ROOT
from bench.fleet.gateways import memory_kb
from tests.support.broker import Mosquitto

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


class Counter:
    """Our subscriber on the simulated fleet: events counted, births timed."""

    def __init__(self, port: int) -> None:
        """Subscribe to everything under storegw/v1 (QoS 0: counting, not checking)."""
        self.lock = threading.Lock()
        self.events = 0
        self.births: list[tuple[float, str, bool]] = []
        """(arrival time.time(), topic, retained) of every online state."""
        self.subscribed_at: list[float] = []
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"fleet-sim-count-{os.getpid()}",
                                  protocol=paho.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        """Subscribe again on every connect (a restarted mosquitto forgot us)."""
        self.subscribed_at.append(time.time())
        client.subscribe("storegw/v1/#", qos=0)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        """Count an event or time a birth (paho's thread)."""
        topic = message.topic
        if topic.endswith("/state"):
            try:
                online = json.loads(message.payload).get("online")
            except (ValueError, AttributeError):
                return
            if online:
                with self.lock:
                    self.births.append((time.time(), topic, bool(message.retain)))
        elif "/cmd" not in topic and "/devices/" not in topic:
            with self.lock:
                self.events += 1

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class SimulateResult:
    """The figures of the fleet-simulate part."""

    gateways: int
    rate: float
    seconds: float
    outage_s: float
    steady_window_s: float = 0.0
    received_per_s: float = 0.0
    cpu_share: float = 0.0
    """CPU seconds per second of the simulator over the steady window (1.0 = one core)."""
    peak_rss_kb: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    """The simulator's own JSON summary."""
    births_after_restart: int = 0
    births_retained: int = 0
    """Of those, delivered as retained on our re-subscribe (the birth came before we were back)."""
    birth_first_s: float | None = None
    birth_last_s: float | None = None
    """After the broker accepted connections again."""
    exit_code: int | None = None
    error: str = ""

    @property
    def wave(self) -> dict[str, Any] | None:
        """The simulator's reconnect wave after the restart."""
        waves = self.summary.get("waves") or []
        return waves[0] if waves else self.summary.get("wave_open")


def run_simulate(gateways: int, rate: float, seconds: float, outage_s: float,
                 out: Callable[[str], None]) -> SimulateResult:
    """Run the simulator against a fresh mosquitto, kill and restart the broker, and measure."""
    result = SimulateResult(gateways, rate, seconds, outage_s)
    broker = Mosquitto().start()
    counter = Counter(broker.port)
    ramp = min(20.0, max(5.0, gateways / 100))
    steady = (ramp + 5.0, max(ramp + 10.0, 0.6 * seconds))
    command = [sys.executable, "-m", "gateway.cli.main", "fleet", "simulate", "--gateways", str(gateways),
               "--rate", f"{rate:g}", "--broker", broker.url, "--seconds", f"{seconds:g}", "--ramp-s", f"{ramp:g}",
               "--report-s", "10", "--reconnect-max-s", "10", "--json"]
    out(f"simulate: {' '.join(command[2:])}  (mosquitto on port {broker.port})")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    began = time.monotonic()
    marks: dict[str, tuple[float, int, float]] = {}
    restarted_at: float | None = None
    try:
        while process.poll() is None:
            time.sleep(0.25)
            elapsed = time.monotonic() - began
            rss, _ = memory_kb(process.pid)
            result.peak_rss_kb = max(result.peak_rss_kb, rss)
            for name, at in (("from", steady[0]), ("to", steady[1])):
                if name not in marks and elapsed >= at:
                    with counter.lock:
                        marks[name] = (time.monotonic(), counter.events, cpu_seconds(process.pid))
            if restarted_at is None and "to" in marks:
                broker.stop()
                time.sleep(outage_s)
                broker.start()
                restarted_at = time.time()
                out(f"simulate: mosquitto killed (SIGKILL) and started again after {outage_s:g} s")
        stdout, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        counter.close()
        broker.stop()
    result.exit_code = process.returncode
    lines = stdout.strip().splitlines()
    if not lines:
        result.error = f"the simulator printed no summary (exit {process.returncode}): {stderr[-2000:]}"
        return result
    result.summary = json.loads(lines[-1])
    if "from" in marks and "to" in marks:
        (t0, n0, c0), (t1, n1, c1) = marks["from"], marks["to"]
        result.steady_window_s = round(t1 - t0, 1)
        result.received_per_s = round((n1 - n0) / (t1 - t0), 1)
        result.cpu_share = round((c1 - c0) / (t1 - t0), 3)
    if restarted_at is not None:
        with counter.lock:
            after = {}
            for moment, topic, retained in counter.births:
                if moment >= restarted_at and topic not in after:
                    after[topic] = (moment, retained)
        result.births_after_restart = len(after)
        result.births_retained = sum(1 for _, retained in after.values() if retained)
        if after:
            result.birth_first_s = round(min(m for m, _ in after.values()) - restarted_at, 2)
            result.birth_last_s = round(max(m for m, _ in after.values()) - restarted_at, 2)
    return result
