"""The end of the run: stop the devices, drain, ask cmd/replay for every gap, and count per gateway.

"Committed" is each daemon's own `outbox.last_seq` once its device is stopped and its outbox has
nothing pending (status socket). A gateway passes when every number from 1 to that one was received,
or was declared never issued by the gateway itself (sequence-gap events, replay answers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.fleet.gateways import Fleet
from bench.fleet.listener import Listener
from gateway.cli.verify import replay_requests
from gateway.consumer import subtract
from gateway.events.ranges import RangeSet, gaps


def count(spans: list[list[int]]) -> int:
    """How many numbers the [first, last] spans hold."""
    return RangeSet((a, b) for a, b in spans).count()


@dataclass
class GatewayCount:
    """One gateway's figures at the end."""

    key: str
    last_seq: int
    received_before: int = 0
    """Distinct numbers in 1..last_seq received before the replay."""
    missing_before: int = 0
    replayed: int = 0
    """Missing numbers that arrived after the replay requests."""
    missing_after: list[list[int]] = field(default_factory=list)
    never_issued: int = 0
    lost: int = 0
    """Numbers the replay answers call pruned (gone from the outbox before delivery)."""
    duplicates: int = 0
    boots: int = 0
    drained: bool = True

    @property
    def received(self) -> int:
        """Distinct numbers in 1..last_seq received in the end."""
        return self.received_before + self.replayed

    @property
    def ok(self) -> bool:
        """Every committed number delivered (or declared never issued) and the daemon drained."""
        return self.drained and self.last_seq > 0 and not self.missing_after and not self.lost


def holes(listener: Listener, key: str, last_seq: int, declared: list[list[int]] | None = None) -> list[list[int]]:
    """Numbers of 1..last_seq not received and not declared never issued (call without the lock held)."""
    with listener.lock:
        stream = listener.stream(key)
        seen = sorted(stream.check.sequences)
        never = list(stream.check.never_issued) + list(declared or [])
    return subtract([[a, b] for a, b in gaps(seen, 1, last_seq)], never)


def final_check(fleet: Fleet, listener: Listener, settings: dict[str, Any], idle_s: float,
                out: Callable[[str], None]) -> list[GatewayCount]:
    """Drain, replay the gaps, count; one GatewayCount per gateway."""
    began = time.monotonic()
    fleet.stop_devices(settings)
    statuses = fleet.drained(timeout=120)
    out(f"check: devices stopped and outboxes drained in {time.monotonic() - began:.1f} s")
    counts: list[GatewayCount] = []
    requested = 0
    for gateway in fleet.gateways:
        status = statuses.get(gateway.key) or {}
        outbox = status.get("outbox") or {}
        result = GatewayCount(gateway.key, int(outbox.get("last_seq") or 0),
                              drained=bool(status) and not outbox.get("pending") and not status.get("devices"))
        missing = holes(listener, gateway.key, result.last_seq)
        result.missing_before = count(missing)
        with listener.lock:
            stream = listener.stream(gateway.key)
            result.received_before = sum(1 for n in stream.check.sequences if 1 <= n <= result.last_seq)
            for first, last in replay_requests(missing, 1_000_000):
                stream.replay.ask(f"fleet-{first}", first, last)
        for first, last in replay_requests(missing, 1_000_000):
            listener.send(gateway.base, "replay", {"from_seq": first, "to_seq": last, "request_id": f"fleet-{first}"})
            requested += 1
        counts.append(result)
    if requested:
        out(f"check: {requested} cmd/replay requests for {sum(c.missing_before for c in counts)} missing numbers")
        waited = wait_replays(listener, [c.key for c in counts], idle_s)
        out(f"check: replay waited {waited:.1f} s")
    for result in counts:
        with listener.lock:
            stream = listener.stream(result.key)
            declared = stream.replay.declared("never_issued")
            result.lost = count(stream.replay.declared("pruned"))
            result.duplicates = stream.check.duplicates
            result.boots = len(stream.check.boots)
            received = sum(1 for n in stream.check.sequences if 1 <= n <= result.last_seq)
            result.never_issued = count([list(s) for s in stream.check.never_issued] + declared)
        result.replayed = received - result.received_before
        result.missing_after = holes(listener, result.key, result.last_seq, declared)
    return counts


def wait_replays(listener: Listener, keys: list[str], idle_s: float) -> float:
    """Wait while any gateway's replay makes progress; give up after ``idle_s`` with none. Seconds waited."""
    began = last_progress = time.monotonic()
    marker: list[tuple[int, int]] | None = None
    while True:
        with listener.lock:
            states = [listener.stream(k).replay.status(listener.stream(k).check.sequences) for k in keys]
        if not any(waiting for waiting, _ in states):
            return time.monotonic() - began
        progress = [p for _, p in states]
        if progress != marker:
            marker, last_progress = progress, time.monotonic()
        elif time.monotonic() - last_progress >= idle_s:
            return time.monotonic() - began
        time.sleep(0.5)
