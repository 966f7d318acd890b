"""`storegw fleet simulate`: N simulated gateways in one process, their figures while running and at the end."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import random
import resource
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from gateway.events.envelope import source_of
from gateway.fleet.figures import FleetFigures, wave_line
from gateway.fleet.gateway import FleetOptions, SimGateway, store_id_of
from gateway.fleet.state import StateFile

CONNECT_THREADS = 16
"""Threads for the blocking TCP/TLS connects; everything else runs on the event loop."""
SAVE_EVERY_S = 5.0
FDS_PER_GATEWAY = 4
"""The socket, paho's socket pair, and room to spare."""


@dataclass(frozen=True)
class RunPlan:
    """How long and how loudly a fleet runs."""

    gateways: int
    seconds: float | None = None
    """None: until SIGINT or SIGTERM."""
    report_s: float = 5.0
    drain_s: float = 15.0
    """After the last event, how long to wait for the broker to ack what is still pending."""
    ramp_s: float = 0.0
    """Gateways start spread evenly over this many seconds."""
    state: str | None = None
    seed: int | None = None


def rss_mb() -> float:
    """Resident memory of this process in MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raise_fd_limit(needed: int) -> str | None:
    """Raise the open-file limit towards ``needed``; a sentence when even the hard limit is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return None
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        return (f"the open-file limit is {hard} and {needed} are needed for this many gateways; "
                "raise it (ulimit -n) or simulate fewer")
    return None


class FleetRun:
    """A running simulated fleet and its figures."""

    def __init__(self, options: FleetOptions, plan: RunPlan, out: TextIO = sys.stderr) -> None:
        """Gateways as ``options`` say, run as ``plan`` says; progress lines go to ``out``."""
        self.options = options
        self.plan = plan
        self.out = out
        self.figures = FleetFigures(plan.gateways)
        self.state = StateFile(plan.state)
        self.pool = concurrent.futures.ThreadPoolExecutor(CONNECT_THREADS, thread_name_prefix="fleet-connect")
        self.gateways: list[SimGateway] = []
        for index in range(plan.gateways):
            boot, first = self.state.start(source_of(store_id_of(options, index), options.gateway_id))
            self.gateways.append(SimGateway(index, options, self.pool, self.figures, boot=boot, first_seq=first))
        self.started = time.monotonic()
        self.cpu_started = time.process_time()
        self._stop = asyncio.Event()
        self._last_report: tuple[float, int, int] = (self.started, 0, 0)

    # ---- figures -------------------------------------------------------------------------------
    def published(self) -> int:
        """Events numbered so far (events and health) by the whole fleet."""
        return sum(g.outbox.last_seq - g.outbox.first_seq + 1 for g in self.gateways)

    def acked(self) -> int:
        """Events acknowledged by the broker (each once, resends not counted twice)."""
        return sum(g.outbox.acked for g in self.gateways)

    def summary(self) -> dict[str, Any]:
        """The figures of the run so far, as the `--json` line has them."""
        elapsed = time.monotonic() - self.started
        published, acked = self.published(), self.acked()
        return {
            "gateways": self.plan.gateways, "connected": self.figures.connected,
            "ever_connected": len(self.figures.ever_connected), "seconds": round(elapsed, 1),
            "rate_per_gateway": self.options.rate, "events": published, "acked": acked,
            "events_per_s": round(published / elapsed, 1) if elapsed else 0.0,
            "acked_per_s": round(acked / elapsed, 1) if elapsed else 0.0,
            "sent": sum(g.publisher.sent for g in self.gateways),
            "pending": sum(g.outbox.pending for g in self.gateways),
            "dropped": sum(g.outbox.dropped for g in self.gateways),
            "replayed_rows": sum(g.publisher.replays.rows_read for g in self.gateways),
            "reconnects": self.figures.reconnects,
            "waves": [w.summary() for w in self.figures.waves], "wave_open": self.figures.last_wave()
            if self.figures.wave else None,
            "rss_mb": round(rss_mb(), 1), "cpu_s": round(time.process_time() - self.cpu_started, 1),
            "protocol": self.options.protocol,
        }

    def report(self) -> None:
        """One progress line: connections, events/s published and acked since the last line, waves."""
        now = time.monotonic()
        published, acked = self.published(), self.acked()
        then, published_before, acked_before = self._last_report
        span = max(now - then, 1e-6)
        self._last_report = (now, published, acked)
        pending = sum(g.outbox.pending for g in self.gateways)
        print(f"fleet: {now - self.started:6.1f} s  connected {self.figures.connected}/{self.plan.gateways}  "
              f"events {published:,} ({(published - published_before) / span:,.0f}/s)  acked {acked:,} "
              f"({(acked - acked_before) / span:,.0f}/s)  pending {pending:,}  reconnects {self.figures.reconnects}  "
              f"rss {rss_mb():.0f} MB{wave_line(self.figures.last_wave())}", file=self.out, flush=True)

    def save_state(self, final: bool = False) -> None:
        """Reserve numbers above what each gateway issued (exactly what it issued at the end)."""
        if not self.plan.state:
            return
        margin = 0 if final else math.ceil(self.options.rate * SAVE_EVERY_S * 4 + 4 * SAVE_EVERY_S / max(
            self.options.health_s, 1.0)) + 10
        self.state.save({g.source: (g.outbox.boot, g.outbox.last_seq + margin) for g in self.gateways})

    # ---- running -------------------------------------------------------------------------------
    def stop(self) -> None:
        """End the run (SIGINT, SIGTERM)."""
        self._stop.set()

    async def run(self) -> dict[str, Any]:
        """Start the fleet, report until the end, wind down; returns the summary."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        self.save_state()  # reserved before the first event: a killed run is continued above it
        rng = random.Random(self.plan.seed)
        try:
            starter = asyncio.create_task(self._start_all(rng))
            deadline = None if self.plan.seconds is None else self.started + self.plan.seconds
            next_save = time.monotonic() + SAVE_EVERY_S
            while not self._stop.is_set():
                wait = self.plan.report_s if deadline is None else min(self.plan.report_s,
                                                                        max(0.0, deadline - time.monotonic()))
                try:
                    async with asyncio.timeout(wait):
                        await self._stop.wait()
                except TimeoutError:
                    pass
                self.report()
                if time.monotonic() >= next_save:
                    self.save_state()
                    next_save = time.monotonic() + SAVE_EVERY_S
                if deadline is not None and time.monotonic() >= deadline:
                    break
            starter.cancel()
            await self._wind_down()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            self.pool.shutdown(wait=False, cancel_futures=True)
        return self.summary()

    async def _start_all(self, rng: random.Random) -> None:
        """Start every gateway, spread over ramp_s."""
        step = self.plan.ramp_s / max(1, len(self.gateways))
        for gateway in self.gateways:
            gateway.start(rng)
            if step:
                await asyncio.sleep(step)

    async def _wind_down(self) -> None:
        """No more events; wait (bounded) for the broker to ack what is pending; offline states; save."""
        for gateway in self.gateways:
            gateway.stop_producing()
        deadline = time.monotonic() + self.plan.drain_s
        while time.monotonic() < deadline and any(g.outbox.pending for g in self.gateways) \
                and self.figures.connected:
            await asyncio.sleep(0.1)
        self.report()
        await asyncio.gather(*(g.stop("simulation ended") for g in self.gateways))
        self.save_state(final=True)


def verdict(summary: dict[str, Any]) -> tuple[int, str | None]:
    """Exit code and the sentence saying why a run failed (None when everything was delivered)."""
    if summary["ever_connected"] < summary["gateways"]:
        return 1, (f"{summary['gateways'] - summary['ever_connected']} of {summary['gateways']} gateways never "
                   "connected; check the broker URL, its credentials and its connection limit")
    if summary["pending"]:
        return 1, f"{summary['pending']:,} events were not acknowledged by the broker before the end"
    return 0, None


def simulate(options: FleetOptions, plan: RunPlan, *, as_json: bool, out: TextIO = sys.stdout,
             progress: TextIO = sys.stderr, on_start: Callable[[FleetRun], None] | None = None) -> int:
    """Run a fleet to its end; prints the summary (one JSON line with ``as_json``); returns the exit code."""
    problem = raise_fd_limit(plan.gateways * FDS_PER_GATEWAY + 64)
    if problem:
        print(f"fleet: {problem}", file=progress)
        return 1

    async def main() -> dict[str, Any]:
        """The run on its own loop."""
        run = FleetRun(options, plan, progress)
        if on_start is not None:
            on_start(run)
        return await run.run()

    summary = asyncio.run(main())
    code, why = verdict(summary)
    if as_json:
        print(json.dumps(summary), file=out, flush=True)
    else:
        print(f"fleet: {summary['gateways']} gateways for {summary['seconds']} s: {summary['events']:,} events "
              f"({summary['events_per_s']:,}/s), {summary['acked']:,} acked ({summary['acked_per_s']:,}/s), "
              f"{summary['pending']:,} pending, {summary['reconnects']} reconnects, rss {summary['rss_mb']} MB, "
              f"cpu {summary['cpu_s']} s", file=out)
        for number, wave in enumerate(summary["waves"], 1):
            print(f"fleet: reconnect wave {number}: {wave['lost']} lost, back {wave['first_back_s']}.."
                  f"{wave['last_back_s']} s after the first loss, spread {wave['spread_s']} s", file=out)
    if why:
        print(f"fleet: {why}", file=progress)
    return code
