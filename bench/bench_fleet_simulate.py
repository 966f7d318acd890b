"""`storegw fleet simulate` at 100 and 1,000 gateways against a mosquitto it starts.

Run:  .venv/bin/python bench/bench_fleet_simulate.py [--gateways 100 1000] [--rate 1] [--seconds 40]
For each fleet size: starts its own mosquitto on a free loopback port and a paho subscriber on the fleet's
topics, runs the simulator as a subprocess (`storegw fleet simulate ... --json`), samples its VmRSS and CPU
from /proc every second, counts the events the subscriber receives in the steady middle of the run, kills
the broker (SIGKILL) at 60 % of the run and starts it again on the same port after --outage seconds. The
reconnect spread is the simulator's own reconnect wave (per gateway: when it lost the broker, when its new
CONNACK came), printed in its JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout, for tests.support
from tests.support.broker import Mosquitto  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


class Counter:
    """A subscriber counting the events it receives (not state, not command answers)."""

    def __init__(self, port: int) -> None:
        """Subscribe to everything the fleet publishes."""
        self.count = 0
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-fleet-{os.getpid()}",
                                  protocol=paho.MQTTv5)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("storegw/v1/#", qos=0)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=1)
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()

    def _on_message(self, client: object, userdata: object, message: paho.MQTTMessage) -> None:
        """Count an event (paho's thread)."""
        if not message.topic.endswith("/state") and "/cmd" not in message.topic:
            with self.lock:
                self.count += 1

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def proc_sample(pid: int) -> tuple[float, float]:
    """(VmRSS in MB, CPU seconds) of a process."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / TICKS


def run(gateways: int, rate: float, seconds: float, outage: float) -> dict[str, object]:
    """One fleet size: figures of the steady window and of the broker restart."""
    broker = Mosquitto().start()
    counter = Counter(broker.port)
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "fleet", "simulate", "--gateways", str(gateways), "--rate",
         str(rate), "--broker", broker.url, "--seconds", str(seconds), "--report-s", "5", "--json",
         "--reconnect-max-s", "10"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    steady = (0.3 * seconds, 0.55 * seconds)
    marks: dict[str, tuple[float, int, float]] = {}
    peak_rss = 0.0
    restarted = False
    try:
        while process.poll() is None:
            time.sleep(0.5)
            elapsed = time.monotonic() - started
            try:
                rss, cpu = proc_sample(process.pid)
            except (OSError, IndexError):
                break
            peak_rss = max(peak_rss, rss)
            for name, at in (("from", steady[0]), ("to", steady[1])):
                if name not in marks and elapsed >= at:
                    with counter.lock:
                        marks[name] = (elapsed, counter.count, cpu)
            if not restarted and elapsed >= 0.6 * seconds:
                restarted = True
                broker.stop()
                time.sleep(outage)
                broker.start()
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
        counter.close()
        broker.stop()
    lines = stdout.strip().splitlines()
    if not lines:
        raise SystemExit(f"the simulator printed no summary:\n{stderr[-3000:]}")
    summary = json.loads(lines[-1])
    (t0, n0, c0), (t1, n1, c1) = marks["from"], marks["to"]
    wave = summary["waves"][0] if summary["waves"] else summary["wave_open"]
    return {"gateways": gateways, "rate_per_gateway": rate, "received_per_s": round((n1 - n0) / (t1 - t0), 1),
            "expected_per_s": round(gateways * rate, 1), "cpu_share_steady": round((c1 - c0) / (t1 - t0), 3),
            "rss_peak_mb": round(peak_rss, 1), "rss_mb_per_gateway": round(peak_rss / gateways, 3),
            "simulator_exit": process.returncode, "events": summary["events"], "acked": summary["acked"],
            "pending_at_end": summary["pending"], "reconnects": summary["reconnects"], "outage_s": outage,
            "reconnect_wave": wave}


def main() -> None:
    """Run every fleet size and print one JSON line each, then a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateways", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rate", type=float, default=1.0, help="events/s per gateway")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--outage", type=float, default=2.0, help="seconds the broker stays down")
    args = parser.parse_args()
    results = []
    for size in args.gateways:
        result = run(size, args.rate, args.seconds, args.outage)
        print(json.dumps(result), flush=True)
        results.append(result)
    print(f"{'gateways':>8} {'recv/s':>8} {'expect/s':>8} {'cpu':>6} {'rss MB':>7} {'MB/gw':>6} "
          f"{'lost':>5} {'back':>5} {'first s':>7} {'last s':>7} {'spread s':>8}")
    for r in results:
        w = r["reconnect_wave"] or {}
        print(f"{r['gateways']:>8} {r['received_per_s']:>8} {r['expected_per_s']:>8} {r['cpu_share_steady']:>6} "
              f"{r['rss_peak_mb']:>7} {r['rss_mb_per_gateway']:>6} {w.get('lost', '-'):>5} {w.get('back', '-'):>5} "
              f"{w.get('first_back_s', '-')!s:>7} {w.get('last_back_s', '-')!s:>7} {w.get('spread_s', '-')!s:>8}")


if __name__ == "__main__":
    main()
