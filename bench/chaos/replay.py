"""The final replay: every missing range asked for with `cmd/replay` in chunks, and what the answers declare."""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field

from bench.chaos.consumer import Consumer
from bench.chaos.spans import clip, expand, merge_ranges, parse_spans, ranges


@dataclass
class ReplayOutcome:
    """What the final replay found out."""

    requests: int = 0
    answered: int = 0
    refused: list[str] = field(default_factory=list)
    never_issued: list[tuple[int, int]] = field(default_factory=list)
    """Declared by the gateway's answers."""
    gone: list[tuple[int, int]] = field(default_factory=list)
    """Declared missing but not never-issued: pruned or dropped after their commit."""
    unanswered: list[tuple[int, int]] = field(default_factory=list)
    seconds: float = 0.0
    gave_up: str | None = None


def plan_requests(missing: list[tuple[int, int]], chunk: int, merge_gap: int = 64) -> list[tuple[int, int]]:
    """Replay requests covering the ``missing`` ranges: nearby ones merged, each at most ``chunk`` numbers."""
    merged: list[tuple[int, int]] = []
    for lo, hi in merge_ranges(missing):
        if merged and lo - merged[-1][1] <= merge_gap and hi - merged[-1][0] < chunk:
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    out: list[tuple[int, int]] = []
    for lo, hi in merged:
        for start in range(lo, hi + 1, chunk):
            out.append((start, min(hi, start + chunk - 1)))
    return out


def replay_missing(consumer: Consumer, missing: list[tuple[int, int]], *, chunk: int = 20_000,
                   outstanding: int = 4, idle_timeout: float = 30.0, total_timeout: float = 300.0,
                   busy_retries: int = 10) -> ReplayOutcome:
    """Ask `cmd/replay` for every missing range in chunks; wait while it progresses (caller bounds ``missing``)."""
    outcome = ReplayOutcome()
    start = time.monotonic()
    if not missing:
        return outcome
    want = expand(missing)
    queue = list(plan_requests(missing, chunk))
    outcome.requests = len(queue)
    pending: dict[str, tuple[int, int]] = {}
    answered: dict[str, tuple[int, int]] = {}
    retries: dict[tuple[int, int], int] = {}
    declared: set[int] = set()
    last_progress = time.monotonic()
    marker: tuple[int, int] = (-1, -1)
    run_id = uuid.uuid4().hex[:6]
    serial = itertools.count(1)
    while True:
        now = time.monotonic()
        while queue and len(pending) < outstanding:
            span = queue.pop(0)
            request_id = f"chaos-final-{run_id}-{next(serial)}"
            if consumer.command("replay", {"from_seq": span[0], "to_seq": span[1], "request_id": request_id}):
                pending[request_id] = span
            else:
                queue.insert(0, span)
                break
        for request_id, span in list(pending.items()):
            for answer in consumer.answers_for(request_id):
                body = answer.payload
                del pending[request_id]
                if body.get("ok") is False:
                    error = str(body.get("error", ""))
                    retries[span] = retries.get(span, 0) + 1
                    if "busy" in error and retries[span] <= busy_retries:
                        queue.append(span)
                    else:
                        outcome.refused.append(f"{span[0]}..{span[1]}: {error}")
                    break
                answered[request_id] = span
                outcome.answered += 1
                never = parse_spans(body.get("never_issued"))
                if "pruned" in body:
                    gone = parse_spans(body.get("pruned"))
                else:
                    never_set = expand(never, span[0], span[1])
                    gone = ranges(sorted(expand(parse_spans(body.get("missing")), span[0], span[1]) - never_set))
                outcome.never_issued.extend(clip(never, span))
                outcome.gone.extend(clip(gone, span))
                declared |= expand(never, span[0], span[1]) | expand(gone, span[0], span[1])
                break
        received = consumer.received()
        still = want - received - declared
        if not still and not pending and not queue:
            break
        progress = (len(want) - len(still), outcome.answered + len(outcome.refused))
        if progress != marker:
            marker, last_progress = progress, now
        if now - last_progress > idle_timeout:
            outcome.gave_up = f"no progress for {idle_timeout:g} s"
            break
        if now - start > total_timeout:
            outcome.gave_up = f"still going after {total_timeout:g} s"
            break
        time.sleep(0.2)
    outcome.unanswered = sorted(pending.values()) + queue
    outcome.seconds = time.monotonic() - start
    outcome.never_issued = merge_ranges(outcome.never_issued)
    outcome.gone = merge_ranges(outcome.gone)
    return outcome
