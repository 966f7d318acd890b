"""Replay storms: several large, overlapping `cmd/replay` requests while live events flow, and their verdict."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.chaos.common import now
from bench.chaos.lab import Lab
from bench.chaos.record import RoundRecord
from bench.chaos.spans import count_ranges, merge_ranges


@dataclass
class Storm:
    """A replay storm in flight."""

    started: float
    live_above: int
    requests: dict[str, tuple[int, int]]


def storm_start(lab: Lab, rng: random.Random, record: RoundRecord) -> Storm:
    """Send several large, overlapping `cmd/replay` requests at once."""
    assert lab.consumer
    last = max(1, lab.last_seq())
    count = rng.randint(3, 6)
    requests: dict[str, tuple[int, int]] = {}
    run_id = uuid.uuid4().hex[:6]
    for i in range(count):
        span = rng.randint(min(last, 20_000), min(last, 100_000))
        lo = rng.randint(1, max(1, last - span + 1))
        requests[f"chaos-storm-{run_id}-{i}"] = (lo, lo + span - 1)
    union = count_ranges(merge_ranges(requests.values()))
    record.detail = (f"{count} requests, {sum(hi - lo + 1 for lo, hi in requests.values()):,} numbers asked, "
                     f"{union:,} distinct, last_seq {last:,}")
    storm = Storm(now(), last, requests)
    for request_id, (lo, hi) in requests.items():
        if not lab.consumer.command("replay", {"from_seq": lo, "to_seq": hi, "request_id": request_id}):
            record.note(f"replay request {request_id} not accepted by the broker within 10 s")
    return storm


def storm_finish(lab: Lab, storm: Storm, record: RoundRecord, timeout: float = 150.0) -> None:
    """Wait (bounded) for every answer and for live delivery to be back near its rate; report both."""
    assert lab.consumer and lab.config
    rate = lab.config.rate
    answered: dict[str, dict[str, Any]] = {}
    recovered_at: float | None = None
    worst_window = float("inf")
    deadline = storm.started + timeout
    while now() < deadline:
        lab.check_alive(record, "during a replay storm")
        for request_id in storm.requests:
            if request_id not in answered:
                answers = lab.consumer.answers_for(request_id)
                if answers:
                    answered[request_id] = answers[-1].payload
        t = now()
        if t - storm.started >= 3.0:
            window = lab.consumer.new_between(t - 3.0, t, above=storm.live_above) / 3.0
            worst_window = min(worst_window, window)
            if window >= 0.8 * rate and recovered_at is None and len(answered) == len(storm.requests):
                recovered_at = t
        if recovered_at is not None:
            break
        time.sleep(0.5)
    elapsed = now() - storm.started
    first10 = lab.consumer.new_between(storm.started, storm.started + min(10.0, elapsed),
                                       above=storm.live_above) / max(0.1, min(10.0, elapsed))
    ok = sum(1 for a in answered.values() if a.get("ok") is True)
    busy = sum(1 for a in answered.values() if a.get("ok") is False and "busy" in str(a.get("error", "")))
    replayed = sum(int(a.get("replayed") or 0) for a in answered.values() if isinstance(a.get("replayed"), int))
    record.note(f"storm: {len(answered)}/{len(storm.requests)} answered ({ok} ok, {busy} busy), "
                f"{replayed:,} replayed per the answers; live {first10:.0f}/s in its first 10 s, worst 3-s window "
                f"{0 if worst_window == float('inf') else worst_window:.0f}/s (rate {rate:g}/s); "
                + (f"back to >= 80 % after {recovered_at - storm.started:.1f} s" if recovered_at else
                   f"not back to 80 % within {timeout:g} s"))
    if len(answered) < len(storm.requests):
        record.problem(f"replay storm: {len(storm.requests) - len(answered)} of {len(storm.requests)} requests "
                       f"got no answer within {timeout:g} s")
    if first10 < 0.5 * rate:
        record.problem(f"replay storm starved live delivery: {first10:.0f}/s in the storm's first 10 s "
                       f"(rate {rate:g}/s)")
