"""Delivery benchmarks: durable publish vs raw paho, backlog drain, commit-to-PUBACK latency.

Run:  .venv/bin/python bench/bench_delivery.py [--events 50000]
Starts its own mosquitto on a free loopback port (no persistence) and uses the real outbox
(WAL, synchronous=FULL, group commit), the real publisher and the real paho link, in one process.
Prints one line per figure with how it was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for tests.support
from gateway.events.envelope import source_of
from gateway.events.types.synthetic import SyntheticData
from gateway.mqtt.settings import LinkSettings
from gateway.mqtt.uplink import Uplink
from gateway.outbox import Outbox, QuotaPolicy
from tests.support.broker import Mosquitto

FILLER = "x" * 150  # envelope + data come to about 320 bytes, like a small real event
WINDOW = 20


def raw_paho(port: int, n: int, payload: bytes) -> float:
    """Messages/s of paho alone publishing QoS 1 with a window of 20 until every PUBACK."""
    done = threading.Event()
    acked = 0

    def on_publish(client: paho.Client, userdata: object, mid: int, rc: object, props: object) -> None:
        """Count one PUBACK (paho's thread)."""
        nonlocal acked
        acked += 1
        if acked == n:
            done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(WINDOW)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    time.sleep(0.3)
    start = time.perf_counter()
    for _ in range(n):
        client.publish("bench/raw", payload, qos=1)
    done.wait(300)
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return n / elapsed


class Pipe:
    """Outbox + uplink (publisher + link), the daemon's own."""

    def __init__(self, path: str, port: int) -> None:
        """An outbox at ``path`` whose uplink will connect to the broker on ``port``."""
        self.outbox = Outbox(path, source=source_of("bench", "gw"), quota=QuotaPolicy(max_bytes=4_000_000_000))
        self.port = port
        self.commit_time: dict[int, float] = {}
        self.latencies: list[float] = []
        self.acked = 0
        self.all_acked = asyncio.Event()
        self.target = 0

    async def start(self, link: bool = True) -> None:
        """Open the outbox and, if asked, connect."""
        await self.outbox.open()
        self.writer = asyncio.create_task(self.outbox.run())
        original_ack = self.outbox.ack

        def timed_ack(seq: int) -> None:
            """The outbox's ack, timing commit-to-PUBACK and counting towards the target."""
            committed = self.commit_time.pop(seq, None)
            if committed is not None:
                self.latencies.append(time.perf_counter() - committed)
            self.acked += 1
            if self.acked >= self.target:
                self.all_acked.set()
            original_ack(seq)

        self.outbox.ack = timed_ack  # type: ignore[method-assign]
        self.outbox.subscribe(lambda rows, drafts: self.commit_time.update(
            (row.seq, time.perf_counter()) for row in rows))
        if link:
            await self.connect()

    async def connect(self) -> None:
        """Start the uplink."""
        self.uplink = Uplink(self.outbox, LinkSettings(host="127.0.0.1", port=self.port, tls=False,
                                                       client_id="bench-gw", max_inflight=WINDOW))
        self.uplink.start()

    def submit(self, i: int) -> None:
        """Hand one event to the outbox."""
        self.outbox.submit("synthetic", "bench", time.time(), SyntheticData(n=i, filler=FILLER),
                           "storegw/v1/bench/gw/synthetic")

    async def stop(self) -> None:
        """Close everything."""
        if hasattr(self, "uplink"):
            await self.uplink.stop("bench done")
        self.writer.cancel()
        await self.outbox.close()


async def durable(port: int, n: int, workdir: str) -> float:
    """Events/s from submit to PUBACK through outbox (FULL) + publisher, offered as fast as possible."""
    pipe = Pipe(os.path.join(workdir, "durable.db"), port)
    await pipe.start()
    await asyncio.sleep(0.5)
    pipe.target = n
    start = time.perf_counter()
    for i in range(n):
        pipe.submit(i)
        if i % 200 == 199:
            await asyncio.sleep(0)  # producers yield now and then, as device tasks do
    await asyncio.wait_for(pipe.all_acked.wait(), 300)
    elapsed = time.perf_counter() - start
    await pipe.stop()
    return n / elapsed


async def drain(port: int, backlog: int, workdir: str) -> tuple[float, float]:
    """Commit a backlog with the broker unreachable, then time its delivery once connected."""
    pipe = Pipe(os.path.join(workdir, "drain.db"), port)
    await pipe.start(link=False)
    for i in range(backlog):
        pipe.submit(i)
        if i % 5000 == 4999:
            await pipe.outbox.flush()
    await pipe.outbox.flush()
    pipe.target = backlog
    start = time.perf_counter()
    await pipe.connect()
    await asyncio.wait_for(pipe.all_acked.wait(), 600)
    elapsed = time.perf_counter() - start
    size = pipe.outbox.used_bytes
    await pipe.stop()
    return backlog / elapsed, size / 1e6


async def latency(port: int, rate: float, seconds: float, workdir: str) -> tuple[float, float, float, int]:
    """Commit-to-PUBACK latency at a steady offered rate: p50, p99, max (ms) and samples."""
    pipe = Pipe(os.path.join(workdir, "latency.db"), port)
    await pipe.start()
    await asyncio.sleep(0.5)
    n = int(rate * seconds)
    pipe.target = n
    start = time.perf_counter()
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pipe.submit(i)
    await asyncio.wait_for(pipe.all_acked.wait(), 60)
    await pipe.stop()
    ms = sorted(x * 1000 for x in pipe.latencies)
    return statistics.median(ms), ms[int(len(ms) * 0.99) - 1], ms[-1], len(ms)


def main() -> None:
    """Run every delivery benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--backlog", type=int, default=180_000, help="10 min at 300 events/s")
    parser.add_argument("--latency-seconds", type=float, default=20)
    args = parser.parse_args()
    broker = Mosquitto().start()
    workdir = tempfile.mkdtemp(prefix="storegw-bench-")
    try:
        payload = b"y" * 320
        print(f"machine: {os.cpu_count()} cores; mosquitto on loopback, persistence off; window {WINDOW}; "
              f"~320-byte events; outbox WAL synchronous=FULL in {workdir}")
        raw = raw_paho(broker.port, args.events, payload)
        rate = asyncio.run(durable(broker.port, args.events, workdir))
        raw2 = raw_paho(broker.port, args.events, payload)
        raw_mean = (raw + raw2) / 2
        print(f"raw paho QoS1 (window {WINDOW}), {args.events} msgs, before/after: {raw:,.0f} / {raw2:,.0f} msg/s")
        print(f"durable publish (submit -> commit FULL -> publish -> PUBACK; acks committed in groups), "
              f"{args.events} events: {rate:,.0f} events/s; ratio to raw paho {rate / raw_mean:.2f}")
        drain_rate, size_mb = asyncio.run(drain(broker.port, args.backlog, workdir))
        print(f"backlog drain: {args.backlog} events ({size_mb:.0f} MB outbox) committed while offline, delivered at "
              f"{drain_rate:,.0f} events/s after connect")
        p50, p99, worst, samples = asyncio.run(latency(broker.port, 200, args.latency_seconds, workdir))
        print(f"commit-to-PUBACK latency at 200 events/s for {args.latency_seconds:g} s ({samples} samples): "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
